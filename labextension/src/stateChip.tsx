import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { RunState } from './api';

/** A run state as users read it. */
export function stateLabel(state: RunState, trans: TranslationBundle): string {
  const labels: Record<RunState, string> = {
    SUBMITTING: trans.__('Submitting'),
    QUEUED: trans.__('Queued'),
    RUNNING: trans.__('Running'),
    COMPLETED: trans.__('Completed'),
    FAILED: trans.__('Failed'),
    CANCELLED: trans.__('Cancelled'),
    TIMEOUT: trans.__('Timeout'),
    UNKNOWN: trans.__('Unknown')
  };
  return labels[state];
}

/** A run state as a coloured chip (colours in style/base.css, per theme). */
export function StateChip(props: { state: RunState; trans: TranslationBundle }): JSX.Element {
  return (
    <span
      className={`jp-MantikState jp-MantikState-${props.state.toLowerCase()}`}
      data-state={props.state}
    >
      {stateLabel(props.state, props.trans)}
    </span>
  );
}
