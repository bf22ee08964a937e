/**
 * The submit form's sweep section as a request: each parameter one value or a
 * comma-separated list (a list is a dimension of the grid, sent as the CLI's
 * `--sweep NAME=V1,V2` texts the server converts to the declared type), Repeat,
 * MaxConcurrent and the Objective. Field keys are the config keys the server names.
 */
import { IParameter, ISubmission, ISweepKeys } from './api';

export type Goal = 'minimize' | 'maximize';

export interface ISweepValues {
  enabled: boolean;
  repeat: string;
  maxConcurrent: string;
  metric: string;
  goal: Goal;
}

export function initialSweep(): ISweepValues {
  return { enabled: false, repeat: '1', maxConcurrent: '', metric: '', goal: 'minimize' };
}

/** Types whose texts hold commas of their own: never split into a list of values. */
const WHOLE: (IParameter['type'])[] = ['list', 'dict'];

/** The values a parameter's text sweeps: its comma-separated items (one: not swept). */
export function sweepValues(p: IParameter, text: string): string[] {
  if (WHOLE.includes(p.type) || !text.includes(',')) {
    return [text];
  }
  return text.split(',').map(item => item.trim());
}

/** The swept parameters (two values or more) with their values, in the form's order. */
export function sweepDimensions(
  parameters: readonly IParameter[],
  texts: Record<string, string>
): Record<string, string[]> {
  const dimensions: Record<string, string[]> = {};
  for (const p of parameters) {
    const values = sweepValues(p, texts[p.name] ?? '');
    if (values.length > 1) {
      dimensions[p.name] = values;
    }
  }
  return dimensions;
}

/** A whole number typed as digits, else the text (for the server to refuse by its key). */
function count(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (!trimmed) {
    return undefined;
  }
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** How many points the grid and Repeat make (what the server will plan), 0 if unclear. */
export function pointCount(dimensions: Record<string, string[]>, sweep: ISweepValues): number {
  const repeat = count(sweep.repeat) ?? 1;
  if (typeof repeat !== 'number') {
    return 0;
  }
  return Object.values(dimensions).reduce((n, values) => n * values.length, 1) * repeat;
}

/**
 * The submission as a sweep: swept parameters leave `parameter_texts` for `sweep_texts`;
 * Repeat, MaxConcurrent and the Objective go in `sweep` (the config's Sweep key's shape).
 */
export function sweepSubmission(
  submission: ISubmission,
  parameters: readonly IParameter[],
  texts: Record<string, string>,
  sweep: ISweepValues
): ISubmission {
  const dimensions = sweepDimensions(parameters, texts);
  const single = Object.fromEntries(
    Object.entries((submission.parameter_texts ?? {}) as Record<string, string>).filter(
      ([name]) => !(name in dimensions)
    )
  );
  const keys: ISweepKeys = {};
  const repeat = count(sweep.repeat);
  if (repeat !== undefined) {
    keys.Repeat = repeat as number; // a text: the server names Sweep.Repeat
  }
  const limit = count(sweep.maxConcurrent);
  if (limit !== undefined) {
    keys.MaxConcurrent = limit as number;
  }
  if (sweep.metric.trim()) {
    keys.Objective = { Metric: sweep.metric.trim(), Goal: sweep.goal };
  }
  return {
    ...submission,
    parameter_texts: single,
    sweep_texts: Object.entries(dimensions).map(([name, values]) => `${name}=${values.join(',')}`),
    sweep: keys
  };
}
