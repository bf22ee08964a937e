/**
 * What a sweep adds to the runs panel: the progress bar of its points under its row, the
 * toggle that expands it, and one row per point (index, swept values, state, reason).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { IRun } from './api';
import { StateChip } from './stateChip';
import { IPointCounts, pointCounts, shortValues } from './sweepPoints';

/** The counts in words: "2 completed, 1 failed, 0 running, 1 queued of 4". */
export function countsText(counts: IPointCounts, trans: TranslationBundle): string {
  const parts = [
    trans.__('%1 completed', counts.completed),
    trans.__('%1 failed', counts.failed),
    ...(counts.cancelled ? [trans.__('%1 cancelled', counts.cancelled)] : []),
    trans.__('%1 running', counts.running),
    trans.__('%1 queued', counts.queued)
  ];
  return trans.__('%1 of %2', parts.join(', '), counts.total);
}

/** A bar of the sweep's points: completed, failed, cancelled, running, then queued. */
export function SweepProgress(props: {
  points: readonly IRun[];
  trans: TranslationBundle;
}): JSX.Element {
  const counts = pointCounts(props.points);
  const share = (n: number) => `${counts.total ? (n / counts.total) * 100 : 0}%`;
  const exact = Object.entries(counts.byState)
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  const done = counts.completed + counts.failed + counts.cancelled;
  return (
    <div
      className="jp-MantikSweep-progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={counts.total}
      aria-valuenow={done}
      title={`${countsText(counts, props.trans)} (${exact})`}
      data-completed={counts.completed}
      data-failed={counts.failed}
      data-cancelled={counts.cancelled}
      data-running={counts.running}
      data-queued={counts.queued}
      data-total={counts.total}
    >
      {(['completed', 'failed', 'cancelled', 'running'] as const).map(part => (
        <div
          key={part}
          className={`jp-MantikSweep-part jp-MantikSweep-${part}`}
          style={{ width: share(counts[part]) }}
        />
      ))}
    </div>
  );
}

/** The caret that shows or hides a sweep's points. */
export function ExpandToggle(props: {
  expanded: boolean;
  trans: TranslationBundle;
  onToggle: () => void;
}): JSX.Element {
  const Icon = props.expanded ? caretDownIcon : caretRightIcon;
  return (
    <button
      className="jp-MantikIconButton jp-MantikSweep-toggle"
      aria-expanded={props.expanded}
      title={props.expanded ? props.trans.__('Hide points') : props.trans.__('Show points')}
      onClick={event => {
        event.stopPropagation();
        props.onToggle();
      }}
    >
      <Icon.react tag="span" />
    </button>
  );
}

/** One point of an expanded sweep; a click opens its run details. */
export function PointRow(props: {
  point: IRun;
  names: readonly string[];
  trans: TranslationBundle;
  onOpen: () => void;
}): JSX.Element {
  const { point, names, trans } = props;
  const values = shortValues(point.parameters, names);
  return (
    <div
      className="jp-MantikRuns-row jp-MantikSweep-point"
      data-run-id={point.id}
      data-state={point.state}
      data-point={point.point ?? ''}
      onClick={props.onOpen}
      title={point.reason ?? values}
    >
      <div className="jp-MantikRuns-line">
        <span className="jp-MantikSweep-index">#{point.point}</span>
        <StateChip state={point.state} trans={trans} />
        <span className="jp-MantikSweep-values">{values || trans.__('(no swept values)')}</span>
      </div>
      <div className="jp-MantikRuns-line jp-MantikRuns-meta">
        <span className="jp-MantikSweep-reason">{point.reason ?? ''}</span>
      </div>
    </div>
  );
}
