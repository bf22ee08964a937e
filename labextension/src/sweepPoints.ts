/**
 * A sweep's points as the runs panel shows them under the sweep's row: loaded once per
 * sweep when its row is drawn, kept current by the points' own updates (events, polls)
 * and read again whenever the sweep's record changes (the server rewrites it, with its
 * counts, on every change of a point).
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IRun, MantikApi, RunState, isPoint, isSweep } from './api';
import { RunsModel } from './runsModel';

/** The server's largest page: a sweep of up to 1000 points takes two. */
const PAGE = 500;

/** How many of a sweep's points are in each part of its progress bar. */
export interface IPointCounts {
  completed: number;
  failed: number;
  cancelled: number;
  running: number;
  queued: number;
  total: number;
  /** the count of each exact state */
  byState: Partial<Record<RunState, number>>;
}

/** Count points by state: TIMEOUT is a failure, SUBMITTING and UNKNOWN wait as queued. */
export function pointCounts(points: readonly IRun[]): IPointCounts {
  const counts: IPointCounts = {
    completed: 0,
    failed: 0,
    cancelled: 0,
    running: 0,
    queued: 0,
    total: points.length,
    byState: {}
  };
  for (const { state } of points) {
    counts.byState[state] = (counts.byState[state] ?? 0) + 1;
    if (state === 'COMPLETED') {
      counts.completed++;
    } else if (state === 'FAILED' || state === 'TIMEOUT') {
      counts.failed++;
    } else if (state === 'CANCELLED') {
      counts.cancelled++;
    } else if (state === 'RUNNING') {
      counts.running++;
    } else {
      counts.queued++;
    }
  }
  return counts;
}

/** The parameters whose values differ between runs (what a sweep swept), in first-seen order. */
export function sweptNames(runs: readonly { parameters: Record<string, unknown> }[]): string[] {
  const names: string[] = [];
  for (const run of runs) {
    for (const name of Object.keys(run.parameters)) {
      if (!names.includes(name)) {
        names.push(name);
      }
    }
  }
  return names.filter(name => {
    const values = new Set(runs.map(run => JSON.stringify(run.parameters[name])));
    return values.size > 1;
  });
}

/** A point's swept values in a few characters: `lr=0.1, epochs=2`. */
export function shortValues(parameters: Record<string, unknown>, names: readonly string[]): string {
  return names
    .map(name => {
      const value = parameters[name];
      return `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
    })
    .join(', ');
}

export class SweepPoints implements IDisposable {
  constructor(
    private readonly _api: MantikApi,
    private readonly _model: RunsModel
  ) {
    _model.runUpdated.connect(this._onRun, this);
  }

  /** Emitted when a sweep's points were loaded or one of them changed. */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The sweep's points by index, or null until they are loaded (this starts loading). */
  points(sweep: IRun): readonly IRun[] | null {
    const entry = this._entries.get(sweep.id);
    if (!entry || entry.version !== sweep.updated_at) {
      this._load(sweep);
    }
    return entry?.points ?? null;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._model.runUpdated.disconnect(this._onRun, this);
    Signal.clearData(this);
  }

  private _load(sweep: IRun): void {
    if (this._loading.get(sweep.id) === sweep.updated_at) {
      return;
    }
    this._loading.set(sweep.id, sweep.updated_at);
    this._all(sweep.id)
      .then(runs => {
        const points = runs.sort((a, b) => (a.point ?? 0) - (b.point ?? 0));
        this._entries.set(sweep.id, { version: sweep.updated_at, points });
        this._changed.emit(sweep.id);
      })
      .catch(() => {
        // the sweep was deleted or the server is away: its row shows no points
      })
      .finally(() => this._loading.delete(sweep.id));
  }

  private async _all(sweepId: string): Promise<IRun[]> {
    const runs: IRun[] = [];
    let cursor: string | null = null;
    do {
      const page = await this._api.runs({ sweep: sweepId, limit: PAGE, cursor });
      runs.push(...page.runs);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return runs;
  }

  /** A point's fresh copy replaces its old one; a changed sweep is read again when drawn. */
  private _onRun(_: RunsModel, run: IRun): void {
    if (isPoint(run) && run.sweep_id) {
      const entry = this._entries.get(run.sweep_id);
      const index = entry?.points.findIndex(p => p.id === run.id) ?? -1;
      if (entry && index >= 0) {
        entry.points = entry.points.map((p, i) => (i === index ? run : p));
        this._changed.emit(run.sweep_id);
      }
    } else if (isSweep(run) && this._entries.has(run.id)) {
      this._changed.emit(run.id);
    }
  }

  private _entries = new Map<string, { version: string; points: IRun[] }>();
  private _loading = new Map<string, string>();
  private _disposed = false;
  private _changed = new Signal<this, string>(this);
}
