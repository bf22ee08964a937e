import { IRun, RUN_STATES, TERMINAL_STATES, isTerminal } from '../src/api';
import { IRunsFilter, matchesFilter } from '../src/runsModel';

const ALL: IRunsFilter = { states: [], site: '', text: '' };

function run(fields: Partial<IRun>): IRun {
  return {
    id: '0123456789abcdef',
    name: 'Train ResNet',
    site: 'juwels',
    notebook: '/home/alice/Climate/train.ipynb',
    state: 'RUNNING',
    ...fields
  } as IRun;
}

describe('matchesFilter', () => {
  it('lets every run through an empty filter', () => {
    expect(matchesFilter(run({}), ALL)).toBe(true);
  });

  it('keeps the runs in one of the chosen states', () => {
    const filter = { ...ALL, states: ['QUEUED', 'RUNNING'] as IRunsFilter['states'] };
    expect(matchesFilter(run({ state: 'RUNNING' }), filter)).toBe(true);
    expect(matchesFilter(run({ state: 'COMPLETED' }), filter)).toBe(false);
  });

  it('keeps the runs of the chosen site only', () => {
    expect(matchesFilter(run({}), { ...ALL, site: 'juwels' })).toBe(true);
    expect(matchesFilter(run({}), { ...ALL, site: 'daint' })).toBe(false);
  });

  it('finds the text in the name, the notebook or the id, ignoring case and outer spaces', () => {
    for (const text of ['resnet', 'CLIMATE/train', '89abc', '  Train ']) {
      expect(matchesFilter(run({}), { ...ALL, text })).toBe(true);
    }
    expect(matchesFilter(run({}), { ...ALL, text: 'daint' })).toBe(false);
  });

  it('needs every part of the filter to match', () => {
    const filter: IRunsFilter = { states: ['RUNNING'], site: 'juwels', text: 'resnet' };
    expect(matchesFilter(run({}), filter)).toBe(true);
    expect(matchesFilter(run({ site: 'daint' }), filter)).toBe(false);
    expect(matchesFilter(run({ state: 'FAILED' }), filter)).toBe(false);
    expect(matchesFilter(run({ name: 'other' }), filter)).toBe(false);
  });
});

describe('isTerminal', () => {
  it('is true for the terminal states of openapi.yaml only', () => {
    expect(RUN_STATES.filter(isTerminal)).toEqual(TERMINAL_STATES);
  });
});
