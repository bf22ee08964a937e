import { IParameter, IResultRow, IRun, RunState } from '../src/api';
import { matchesFilter } from '../src/runsModel';
import { objectiveSpec, parallelSpec, sortRows } from '../src/sweepCharts';
import { pointCounts, shortValues, sweptNames } from '../src/sweepPoints';
import { initialSweep, pointCount, sweepDimensions, sweepSubmission } from '../src/sweepForm';
import { buildSubmission, initialValues } from '../src/submitForm';

function point(index: number, state: RunState, parameters: Record<string, unknown>): IRun {
  return { id: `p${index}`, sweep_id: 's', point: index, state, parameters } as IRun;
}

function row(pointIndex: number, lr: unknown, loss?: number, state: RunState = 'COMPLETED'): IResultRow {
  return {
    point: pointIndex,
    run_id: `p${pointIndex}`,
    state,
    reason: state === 'COMPLETED' ? null : 'the notebook raised',
    site: 'local',
    parameters: { lr, epochs: pointIndex % 2 ? 1 : 2, tag: 'same' },
    duration: 3,
    metrics: loss === undefined ? {} : { loss },
    best: false
  };
}

describe('a sweep in the runs panel', () => {
  it('is one row: its points never pass the list filter, the sweep does', () => {
    const all = { states: [], site: '', text: '' };
    expect(matchesFilter({ ...point(0, 'QUEUED', {}), name: 'x', notebook: 'n' }, all)).toBe(false);
    const sweep = { id: 's', sweep_id: 's', name: 'sw', notebook: 'n', state: 'QUEUED' } as IRun;
    expect(matchesFilter(sweep, all)).toBe(true);
  });

  it('counts its points by state for the progress bar', () => {
    const states: RunState[] = ['COMPLETED', 'COMPLETED', 'FAILED', 'TIMEOUT', 'RUNNING',
      'QUEUED', 'SUBMITTING', 'CANCELLED'];
    const counts = pointCounts(states.map((s, i) => point(i, s, {})));
    expect(counts).toMatchObject({ completed: 2, failed: 2, cancelled: 1, running: 1, queued: 2,
      total: 8 });
    expect(counts.byState).toEqual({ COMPLETED: 2, FAILED: 1, TIMEOUT: 1, RUNNING: 1, QUEUED: 1,
      SUBMITTING: 1, CANCELLED: 1 });
  });

  it('shows only the parameters that differ between points, shortly', () => {
    const points = [point(0, 'QUEUED', { lr: 0.1, epochs: 2, tag: 'a' }),
      point(1, 'QUEUED', { lr: 0.2, epochs: 2, tag: 'a' }),
      point(2, 'QUEUED', { lr: 0.1, epochs: 3, tag: 'a' })];
    expect(sweptNames(points)).toEqual(['lr', 'epochs']);
    expect(shortValues(points[1].parameters, ['lr', 'epochs'])).toBe('lr=0.2, epochs=2');
    expect(shortValues({ tag: 'x y' }, ['tag'])).toBe('tag=x y');
  });
});

describe('the results table and charts', () => {
  const rows = [row(0, 0.1, 0.5), row(1, 0.01, 0.2), row(2, 0.3), row(3, 0.05, 0.9, 'FAILED')];

  it('sorts by any column both ways, rows without a value last', () => {
    const loss = { kind: 'metric' as const, name: 'loss' };
    expect(sortRows(rows, loss, 'ascending').map(r => r.point)).toEqual([1, 0, 3, 2]);
    expect(sortRows(rows, loss, 'descending').map(r => r.point)).toEqual([3, 0, 1, 2]);
    const lr = { kind: 'parameter' as const, name: 'lr' };
    expect(sortRows(rows, lr, 'ascending').map(r => r.point)).toEqual([1, 3, 0, 2]);
    expect(sortRows(rows, { kind: 'state', name: '' }, 'ascending')[0].state).toBe('COMPLETED');
  });

  it('charts the metric against a parameter, one series per other swept value', () => {
    const spec = objectiveSpec(rows, 'lr', 'loss', ['lr', 'epochs']) as any;
    expect(spec.data.values).toEqual([
      { x: 0.1, y: 0.5, series: 'epochs=2', point: 0, best: false },
      { x: 0.01, y: 0.2, series: 'epochs=1', point: 1, best: false },
      { x: 0.05, y: 0.9, series: 'epochs=1', point: 3, best: false }
    ]);
    expect(spec.encoding.x).toMatchObject({ field: 'x', type: 'quantitative', title: 'lr' });
    const texts = objectiveSpec([row(0, 'a', 1), row(1, 'b', 2)], 'lr', 'loss', ['lr']) as any;
    expect(texts.encoding.x.type).toBe('ordinal');
    expect(texts.data.values[0].series).toBe('loss');
  });

  it('draws parallel coordinates with each axis scaled to its own range', () => {
    const long = parallelSpec([row(0, 0.1, 17.129868717915), row(1, 0.2, 2.1)], ['lr'], 'loss');
    expect((long as any).layer[1].data.values.map((v: any) => v.label)).toEqual(
      ['0.1', '0.2', '2.1', '17.13']);
    const spec = parallelSpec(rows, ['lr', 'epochs'], 'loss') as any;
    const [lines, labels] = spec.layer;
    const first = lines.data.values.filter((v: any) => v.point === 1);
    expect(first.map((v: any) => [v.axis, v.position])).toEqual([
      ['lr', 0], ['epochs', 0], ['loss', 0]
    ]);
    const top = lines.data.values.filter((v: any) => v.point === 3 && v.axis === 'loss');
    expect(top[0].position).toBe(1);
    expect(lines.encoding.x.sort).toEqual(['lr', 'epochs', 'loss']);
    expect(labels.data.values).toEqual([
      { axis: 'lr', position: 0, label: '0.01' }, { axis: 'lr', position: 1, label: '0.1' },
      { axis: 'epochs', position: 0, label: '1' }, { axis: 'epochs', position: 1, label: '2' },
      { axis: 'loss', position: 0, label: '0.2' }, { axis: 'loss', position: 1, label: '0.9' }
    ]);
  });
});

describe('the submit form\'s sweep section', () => {
  const parameters: IParameter[] = [
    { name: 'lr', type: 'float', default: 0.05, default_text: '0.05', help: '' },
    { name: 'epochs', type: 'int', default: 5, default_text: '5', help: '' },
    { name: 'layers', type: 'list', default: [1, 2], default_text: '[1, 2]', help: '' },
    { name: 'tag', type: 'str', default: 'q', default_text: "'q'", help: '' },
    { name: 'augment', type: 'bool', default: false, default_text: 'False', help: '' }
  ];
  const values = initialValues('local', parameters);
  const texts = { ...values.parameters, lr: '0.01, 0.1', epochs: '1,2,3', layers: '[1, 2, 3]',
    augment: 'false,true' }; // a bool's select offers both

  it('sweeps each parameter given as a list; a list parameter stays one value', () => {
    expect(sweepDimensions(parameters, texts)).toEqual({ lr: ['0.01', '0.1'],
      epochs: ['1', '2', '3'], augment: ['false', 'true'] });
    expect(pointCount(sweepDimensions(parameters, texts), { ...initialSweep(), repeat: '2' }))
      .toBe(24);
    expect(pointCount({ lr: ['1', '2'] }, { ...initialSweep(), repeat: 'two' })).toBe(0);
  });

  it('sends swept parameters as sweep texts and the rest as before', () => {
    const plain = buildSubmission({ ...values, parameters: texts }, values.parameters);
    const sweep = { enabled: true, repeat: '2', maxConcurrent: '3', metric: ' loss ',
      goal: 'minimize' as const };
    const submission = sweepSubmission(plain, parameters, texts, sweep);
    expect(submission.parameter_texts).toEqual({ layers: '[1, 2, 3]' });
    expect(submission.sweep_texts).toEqual(['lr=0.01,0.1', 'epochs=1,2,3', 'augment=false,true']);
    expect(submission.sweep).toEqual({ Repeat: 2, MaxConcurrent: 3,
      Objective: { Metric: 'loss', Goal: 'minimize' } });
    expect(submission.site).toBe('local');
  });

  it('leaves what the user did not give to the server\'s defaults, and bad counts to its check', () => {
    const plain = buildSubmission({ ...values, parameters: texts }, values.parameters);
    const sweep = { ...initialSweep(), enabled: true, repeat: '', maxConcurrent: '0x' };
    expect(sweepSubmission(plain, parameters, texts, sweep).sweep).toEqual({
      MaxConcurrent: '0x' });
  });
});
