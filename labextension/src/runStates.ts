// Generated from the State schema of mantik_jupyter/server/openapi.yaml by
// labextension/scripts/run-states.mjs (run by `jlpm build`): edit the OpenAPI file, not this.

/** A run's normalised state. */
export type RunState =
  | 'SUBMITTING'
  | 'QUEUED'
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TIMEOUT'
  | 'UNKNOWN';

/** Every state, in the OpenAPI enum's order. */
export const RUN_STATES: RunState[] = [
  'SUBMITTING',
  'QUEUED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'UNKNOWN'
];

/** States in which a run may still change. */
export const ACTIVE_STATES: RunState[] = [
  'SUBMITTING',
  'QUEUED',
  'RUNNING',
  'UNKNOWN'
];

/** States a run never leaves. */
export const TERMINAL_STATES: RunState[] = [
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT'
];
