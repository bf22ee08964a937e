/**
 * A sweep's results tab: its points side by side (GET runs/{id}/results: sortable by a
 * click on a column, the best highlighted, failed points with their reason; a row opens
 * its point), and a chart of a metric against a chosen parameter or across every swept
 * parameter, drawn by JupyterLab's own Vega-Lite renderer.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import React from 'react';

import { IResultRow, IRun, ISweepResults, MantikApi } from './api';
import { CommandIds } from './commandIds';
import { formatSeconds } from './format';
import { StateChip } from './stateChip';
import {
  Direction,
  IColumn,
  VEGALITE_MIME_TYPES,
  cellValue,
  metricNames,
  objectiveSpec,
  parallelSpec,
  sortRows
} from './sweepCharts';
import { sweptNames } from './sweepPoints';

export interface ISweepResultsProps {
  api: MantikApi;
  sweep: IRun;
  trans: TranslationBundle;
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry | null;
}

type ChartKind = 'objective' | 'parallel';

interface IState {
  results: ISweepResults | null;
  error: string | null;
  sort: { column: IColumn; direction: Direction } | null;
  metric: string;
  parameter: string;
  chart: ChartKind;
}

function text(value: unknown): string {
  if (value === undefined || value === null) {
    return '–';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, '');
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class SweepResults extends React.Component<ISweepResultsProps, IState> {
  state: IState = {
    results: null,
    error: null,
    sort: null,
    metric: '',
    parameter: '',
    chart: 'objective'
  };

  componentDidMount(): void {
    void this._load();
  }

  componentDidUpdate(previous: ISweepResultsProps): void {
    const { sweep } = this.props;
    if (previous.sweep.updated_at !== sweep.updated_at || previous.sweep.state !== sweep.state) {
      void this._load();
    }
  }

  componentWillUnmount(): void {
    this._generation++;
  }

  render(): React.ReactNode {
    const { trans } = this.props;
    const { results, error } = this.state;
    if (!results) {
      return (
        <div className="jp-MantikResults">
          {error ? trans.__('Cannot load the results: %1', error) : trans.__('Loading…')}
        </div>
      );
    }
    const swept = sweptNames(results.rows);
    const metrics = metricNames(results.rows, results.metric);
    const metric = metrics.includes(this.state.metric) ? this.state.metric : (metrics[0] ?? '');
    const parameter = swept.includes(this.state.parameter) ? this.state.parameter : (swept[0] ?? '');
    const best = results.rows.find(row => row.best);
    return (
      <div className="jp-MantikResults">
        <p className="jp-MantikResults-summary">
          {results.metric
            ? trans.__(
                '%1 points ranked by %2 (%3); best: %4',
                results.rows.length,
                results.metric,
                results.goal,
                best ? trans.__('point %1', best.point) : trans.__('none yet')
              )
            : trans.__('%1 points; the sweep has no Objective to rank them by', results.rows.length)}
        </p>
        {error && <div className="jp-MantikError">{error}</div>}
        {this._table(results, swept, metrics)}
        {metric && swept.length > 0 && (
          <>
            <div className="jp-MantikResults-controls">
              <label>
                {trans.__('Chart')}{' '}
                <select
                  className="jp-mod-styled jp-MantikResults-chartKind"
                  value={this.state.chart}
                  onChange={event => this.setState({ chart: event.target.value as ChartKind })}
                >
                  <option value="objective">{trans.__('metric against a parameter')}</option>
                  <option value="parallel">{trans.__('parallel coordinates')}</option>
                </select>
              </label>
              <Choice
                label={trans.__('Metric')}
                className="jp-MantikResults-metric"
                value={metric}
                options={metrics}
                onChange={value => this.setState({ metric: value })}
              />
              {this.state.chart === 'objective' && (
                <Choice
                  label={trans.__('Parameter')}
                  className="jp-MantikResults-parameter"
                  value={parameter}
                  options={swept}
                  onChange={value => this.setState({ parameter: value })}
                />
              )}
            </div>
            <VegaLiteChart
              rendermime={this.props.rendermime}
              trans={trans}
              spec={
                this.state.chart === 'objective'
                  ? objectiveSpec(results.rows, parameter, metric, swept)
                  : parallelSpec(results.rows, swept, metric)
              }
            />
          </>
        )}
      </div>
    );
  }

  private _table(results: ISweepResults, swept: string[], metrics: string[]): JSX.Element {
    const { trans, commands } = this.props;
    const columns: [IColumn, string][] = [
      [{ kind: 'point', name: '' }, trans.__('Point')],
      [{ kind: 'state', name: '' }, trans.__('State')],
      ...swept.map(name => [{ kind: 'parameter', name }, name] as [IColumn, string]),
      ...metrics.map(name => [{ kind: 'metric', name }, name] as [IColumn, string]),
      [{ kind: 'duration', name: '' }, trans.__('Duration')]
    ];
    const { sort } = this.state;
    const rows = sort ? sortRows(results.rows, sort.column, sort.direction) : results.rows;
    const sortedBy = (column: IColumn) =>
      sort && sort.column.kind === column.kind && sort.column.name === column.name
        ? sort.direction
        : undefined;
    return (
      <table className="jp-MantikResults-table">
        <thead>
          <tr>
            {columns.map(([column, label]) => (
              <th
                key={`${column.kind}:${column.name}`}
                data-column={column.name || column.kind}
                aria-sort={sortedBy(column)}
                title={trans.__('Sort by %1', label)}
                onClick={() =>
                  this.setState({
                    sort: {
                      column,
                      direction: sortedBy(column) === 'ascending' ? 'descending' : 'ascending'
                    }
                  })
                }
              >
                {label}
              </th>
            ))}
            <th className="jp-MantikResults-reasonHead">{trans.__('Reason')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(row => (
            <tr
              key={row.run_id}
              className={`${row.best ? 'jp-mod-best' : ''} ${row.state === 'COMPLETED' ? '' : 'jp-mod-failed'}`}
              data-point={row.point}
              data-best={row.best}
              data-state={row.state}
              title={row.best ? trans.__('the best point') : undefined}
              onClick={() => void commands.execute(CommandIds.openRun, { id: row.run_id })}
            >
              {columns.map(([column]) => this._cell(row, column))}
              <td className="jp-MantikResults-reason">{row.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }

  private _cell(row: IResultRow, column: IColumn): JSX.Element {
    const key = `${column.kind}:${column.name}`;
    if (column.kind === 'state') {
      return (
        <td key={key}>
          <StateChip state={row.state} trans={this.props.trans} />
        </td>
      );
    }
    if (column.kind === 'duration') {
      const seconds = row.duration;
      return (
        <td key={key} className="jp-mod-number">
          {seconds === null ? '–' : formatSeconds(seconds)}
        </td>
      );
    }
    const value = cellValue(row, column);
    return (
      <td
        key={key}
        className={typeof value === 'number' ? 'jp-mod-number' : undefined}
        data-column={column.name || column.kind}
      >
        {column.kind === 'point' ? `#${row.point}` : text(value)}
      </td>
    );
  }

  private async _load(): Promise<void> {
    const generation = ++this._generation;
    try {
      const results = await this.props.api.results(this.props.sweep.id);
      if (generation === this._generation) {
        this.setState({ results, error: null });
      }
    } catch (error) {
      if (generation === this._generation) {
        this.setState({ error: String((error as Error).message ?? error) });
      }
    }
  }

  private _generation = 0;
}

/** A labelled select of names. */
function Choice(props: {
  label: string;
  className: string;
  value: string;
  options: string[];
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <label>
      {props.label}{' '}
      <select
        className={`jp-mod-styled ${props.className}`}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
      >
        {props.options.map(name => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A Vega-Lite spec drawn by the renderer JupyterLab registers for it, in a Lumino widget. */
class VegaLiteChart extends React.Component<{
  rendermime: IRenderMimeRegistry | null;
  spec: Record<string, unknown>;
  trans: TranslationBundle;
}> {
  componentDidMount(): void {
    void this._render();
  }

  componentDidUpdate(previous: { spec: Record<string, unknown> }): void {
    if (JSON.stringify(previous.spec) !== JSON.stringify(this.props.spec)) {
      void this._render();
    }
  }

  componentWillUnmount(): void {
    this._widget?.dispose();
    this._widget = null;
  }

  render(): React.ReactNode {
    const { rendermime, trans } = this.props;
    const mimeType = this._mimeType();
    return (
      <div className="jp-MantikResults-chart" ref={this._ref}>
        {!mimeType &&
          (rendermime
            ? trans.__('This JupyterLab has no Vega-Lite renderer to draw the chart with.')
            : trans.__('The chart needs JupyterLab’s rendermime registry.'))}
      </div>
    );
  }

  private _mimeType(): string | undefined {
    const { rendermime } = this.props;
    return rendermime?.mimeTypes.find(type => VEGALITE_MIME_TYPES.includes(type));
  }

  private async _render(): Promise<void> {
    const { rendermime, spec } = this.props;
    const mimeType = this._mimeType();
    const host = this._ref.current;
    if (!rendermime || !mimeType || !host) {
      return;
    }
    // attached before it draws: a chart as wide as its container measures the container
    this._widget?.dispose();
    const renderer = rendermime.createRenderer(mimeType);
    this._widget = renderer;
    Widget.attach(renderer, host);
    await renderer.renderModel(
      rendermime.createModel({
        data: { [mimeType]: spec as ReadonlyPartialJSONObject },
        trusted: true
      })
    );
  }

  private _ref = React.createRef<HTMLDivElement>();
  private _widget: Widget | null = null;
}
