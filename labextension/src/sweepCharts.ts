/**
 * A sweep's results as data: the table's columns and sort, and the Vega-Lite specs of the
 * objective against a parameter and of the parallel coordinates over the swept parameters
 * (rendered by JupyterLab's own Vega renderer).
 */
import { IResultRow } from './api';

/** The Vega-Lite versions JupyterLab's vega5-extension renders, newest first. */
export const VEGALITE_MIME_TYPES = [
  'application/vnd.vegalite.v5+json',
  'application/vnd.vegalite.v4+json'
];

/** A column of the results table: a fixed field, a parameter or a metric. */
export interface IColumn {
  kind: 'point' | 'state' | 'parameter' | 'metric' | 'duration';
  /** the parameter's or metric's name */
  name: string;
}

export type Direction = 'ascending' | 'descending';

/** The value a column shows for a row (undefined: none). */
export function cellValue(row: IResultRow, column: IColumn): unknown {
  switch (column.kind) {
    case 'point':
      return row.point;
    case 'state':
      return row.state;
    case 'duration':
      return row.duration ?? undefined;
    case 'parameter':
      return row.parameters[column.name];
    case 'metric':
      return row.metrics[column.name];
  }
}

/** Every metric any row has, the ranking metric first. */
export function metricNames(rows: readonly IResultRow[], first: string | null): string[] {
  const names = new Set<string>();
  rows.forEach(row => Object.keys(row.metrics).forEach(name => names.add(name)));
  const sorted = [...names].sort();
  return first && names.has(first) ? [first, ...sorted.filter(n => n !== first)] : sorted;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Rows sorted by a column; rows without a value go last either way. */
export function sortRows(
  rows: readonly IResultRow[],
  column: IColumn,
  direction: Direction
): IResultRow[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = cellValue(a, column);
    const y = cellValue(b, column);
    if (x === undefined || y === undefined) {
      return Number(x === undefined) - Number(y === undefined);
    }
    return sign * compare(x, y);
  });
}

/** An axis end's value in a few digits (a metric's 17.129868717915 as 17.13). */
function label(value: string | number): string {
  return typeof value === 'number' ? String(Number(value.toPrecision(4))) : value;
}

function shown(value: unknown): string | number {
  return typeof value === 'number' ? value : typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The metric against one parameter: a point per completed point of the sweep, and a line
 * through each series of the other swept parameters (their values joined).
 */
export function objectiveSpec(
  rows: readonly IResultRow[],
  parameter: string,
  metric: string,
  swept: readonly string[]
): Record<string, unknown> {
  const others = swept.filter(name => name !== parameter);
  const values = rows
    .filter(row => typeof row.metrics[metric] === 'number')
    .map(row => ({
      x: shown(row.parameters[parameter]),
      y: row.metrics[metric],
      series: others.map(name => `${name}=${shown(row.parameters[name])}`).join(', ') || metric,
      point: row.point,
      best: row.best
    }));
  const numeric = values.every(v => typeof v.x === 'number');
  const x = { field: 'x', type: numeric ? 'quantitative' : 'ordinal', title: parameter };
  const encoding = {
    x: numeric ? { ...x, scale: { zero: false } } : x,
    y: { field: 'y', type: 'quantitative', title: metric, scale: { zero: false } },
    color: { field: 'series', type: 'nominal', title: others.join(', ') || null }
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 480,
    height: 260,
    data: { values },
    encoding,
    layer: [
      { mark: { type: 'line', point: false } },
      {
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          shape: { field: 'best', type: 'nominal', title: 'best' },
          tooltip: [
            { field: 'point', title: 'point' },
            { field: 'x', title: parameter },
            { field: 'y', title: metric },
            { field: 'series', title: others.join(', ') || 'series' }
          ]
        }
      }
    ]
  };
}

/**
 * Parallel coordinates: one line per point across every swept parameter and the metric,
 * each axis scaled to its own range (a text parameter's values in their sorted order).
 */
export function parallelSpec(
  rows: readonly IResultRow[],
  swept: readonly string[],
  metric: string
): Record<string, unknown> {
  const ranked = rows.filter(row => typeof row.metrics[metric] === 'number');
  const axes = [...swept, metric];
  const raw = (row: IResultRow, axis: string): unknown =>
    axis === metric && !swept.includes(metric) ? row.metrics[metric] : row.parameters[axis];
  const scales = axes.map(axis => {
    const values = ranked.map(row => raw(row, axis));
    if (values.every(v => typeof v === 'number')) {
      const numbers = values as number[];
      const [min, max] = [Math.min(...numbers), Math.max(...numbers)];
      return (v: unknown) => (max > min ? ((v as number) - min) / (max - min) : 0.5);
    }
    const order = [...new Set(values.map(v => String(shown(v))))].sort((a, b) =>
      a.localeCompare(b, undefined, { numeric: true })
    );
    return (v: unknown) =>
      order.length > 1 ? order.indexOf(String(shown(v))) / (order.length - 1) : 0.5;
  });
  const values = ranked.flatMap(row =>
    axes.map((axis, i) => ({
      point: row.point,
      axis,
      position: scales[i](raw(row, axis)),
      value: shown(raw(row, axis)),
      metric: row.metrics[metric]
    }))
  );
  // each axis labelled with the values at its ends
  const labels = axes.flatMap(axis => {
    const ends = values.filter(v => v.axis === axis);
    return [0, 1].flatMap(position => {
      const end = ends.find(v => v.position === position);
      return end ? [{ axis, position, label: label(end.value) }] : [];
    });
  });
  const x = { field: 'axis', type: 'nominal', sort: axes, title: null, axis: { labelAngle: 0 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 480,
    height: 260,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'position', type: 'quantitative', axis: null },
          detail: { field: 'point', type: 'nominal' },
          color: {
            field: 'metric',
            type: 'quantitative',
            title: metric,
            legend: { orient: 'bottom' }
          },
          tooltip: [
            { field: 'point', title: 'point' },
            { field: 'axis', title: 'axis' },
            { field: 'value', title: 'value' }
          ]
        }
      },
      {
        data: { values: labels },
        mark: { type: 'text', align: 'left', dx: 6 },
        encoding: {
          x,
          y: { field: 'position', type: 'quantitative', axis: null },
          text: { field: 'label' }
        }
      }
    ]
  };
}
