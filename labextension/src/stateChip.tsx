import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { RunState } from './api';

/** A run state as a coloured chip (colours in style/base.css, per theme). */
export function StateChip(props: { state: RunState; trans: TranslationBundle }): JSX.Element {
  const labels: Record<RunState, string> = {
    SUBMITTING: props.trans.__('Submitting'),
    QUEUED: props.trans.__('Queued'),
    RUNNING: props.trans.__('Running'),
    COMPLETED: props.trans.__('Completed'),
    FAILED: props.trans.__('Failed'),
    CANCELLED: props.trans.__('Cancelled'),
    TIMEOUT: props.trans.__('Timeout'),
    UNKNOWN: props.trans.__('Unknown')
  };
  return (
    <span
      className={`jp-MantikState jp-MantikState-${props.state.toLowerCase()}`}
      data-state={props.state}
    >
      {labels[props.state]}
    </span>
  );
}
