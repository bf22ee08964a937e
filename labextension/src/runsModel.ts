/**
 * The runs the side panel shows: one filtered, newest-first list loaded page by page
 * from the server, kept live by the server's run-state events and by a light poll of
 * the active runs (the fallback when no event arrives).
 */
import { Event } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ACTIVE_STATES, IRun, MantikApi, RunState, isPoint, isTerminal } from './api';

export const RUN_STATE_SCHEMA = 'https://events.mantik-jupyter.org/run-state/v1';
export const RUN_PROGRESS_SCHEMA = 'https://events.mantik-jupyter.org/run-progress/v1';
const PAGE = 100;
const POLL_ACTIVE_MS = 3000;
const POLL_IDLE_MS = 15000;

export interface IRunsFilter {
  states: RunState[];
  site: string;
  text: string;
}

export interface IStateChange {
  run: IRun;
  oldState: RunState | null;
}

/**
 * Does a run pass the filter (the server's rules, for runs learnt from events)? A sweep's
 * points never do: the sweep's row stands for them.
 */
export function matchesFilter(run: IRun, filter: IRunsFilter): boolean {
  if (isPoint(run)) {
    return false;
  }
  if (filter.states.length && !filter.states.includes(run.state)) {
    return false;
  }
  if (filter.site && run.site !== filter.site) {
    return false;
  }
  const text = filter.text.trim().toLowerCase();
  return (
    !text ||
    [run.name, run.notebook, run.id].some(value => value.toLowerCase().includes(text))
  );
}

export class RunsModel implements IDisposable {
  constructor(
    readonly api: MantikApi,
    events: Event.IManager | null
  ) {
    this._events = events;
    events?.stream.connect(this._onEvent, this);
    this._timer = window.setTimeout(() => void this._tick(), POLL_ACTIVE_MS);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Every run this model was given, listed or not (a sweep's points among them). */
  get runUpdated(): ISignal<this, IRun> {
    return this._runUpdated;
  }

  /** Every state change seen, from an event or a poll (once per run and state). */
  get stateChanged(): ISignal<this, IStateChange> {
    return this._stateChanged;
  }

  get runs(): readonly IRun[] {
    return this._runs;
  }

  get total(): number {
    return this._total;
  }

  get hasMore(): boolean {
    return this._cursor !== null;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  get filter(): IRunsFilter {
    return this._filter;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  setFilter(filter: Partial<IRunsFilter>): void {
    this._filter = { ...this._filter, ...filter };
    void this.reload();
  }

  /** Load the first page again (filters changed, or a run the list must show). */
  async reload(): Promise<void> {
    const generation = ++this._generation;
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this.api.runs({ ...this._query(), cursor: null });
      if (generation !== this._generation) {
        return;
      }
      this._runs = [];
      this._index.clear();
      this._append(page.runs);
      this._total = page.total;
      this._cursor = page.next_cursor;
      this._error = null;
    } catch (error) {
      this._error = String((error as Error).message ?? error);
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  /** Load the next page (the list scrolled near its end). */
  async loadMore(): Promise<void> {
    if (this._cursor === null || this._loading) {
      return;
    }
    const generation = this._generation;
    this._loading = true;
    try {
      const page = await this.api.runs({ ...this._query(), cursor: this._cursor });
      if (generation === this._generation) {
        this._append(page.runs.filter(run => !this._index.has(run.id)));
        this._total = page.total;
        this._cursor = page.next_cursor;
      }
    } catch (error) {
      this._error = String((error as Error).message ?? error);
    } finally {
      this._loading = false;
      this._changed.emit();
    }
  }

  /** The latest copy of a run this model has seen, listed or not. */
  get(id: string): IRun | undefined {
    return this._latest.get(id);
  }

  /** A run as the server just returned it (after a submit, rename, cancel ...). */
  update(run: IRun): void {
    this._latest.set(run.id, run);
    const known = this._states.get(run.id);
    this._states.set(run.id, run.state);
    if (known !== undefined && known !== run.state) {
      this._stateChanged.emit({ run, oldState: known });
    }
    this._runUpdated.emit(run);
    const index = this._index.get(run.id);
    if (index !== undefined) {
      if (matchesFilter(run, this._filter) || run.state === this._runs[index].state) {
        this._runs[index] = run;
      } else {
        this._drop(run.id);
      }
    } else if (matchesFilter(run, this._filter) && this._isNewest(run)) {
      this._runs.unshift(run);
      this._total += 1;
      this._reindex();
    }
    this._changed.emit();
  }

  /** A run deleted on the server. */
  remove(id: string): void {
    this._states.delete(id);
    this._latest.delete(id);
    this._drop(id);
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._events?.stream.disconnect(this._onEvent, this);
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _query() {
    return {
      states: this._filter.states,
      site: this._filter.site,
      text: this._filter.text.trim(),
      limit: PAGE,
      points: false
    };
  }

  private _append(runs: IRun[]): void {
    for (const run of runs) {
      this._index.set(run.id, this._runs.length);
      this._runs.push(run);
      this._latest.set(run.id, run);
      if (!this._states.has(run.id)) {
        this._states.set(run.id, run.state);
      }
    }
  }

  private _drop(id: string): void {
    if (this._index.has(id)) {
      this._runs = this._runs.filter(run => run.id !== id);
      this._total = Math.max(0, this._total - 1);
      this._reindex();
    }
  }

  private _reindex(): void {
    this._index.clear();
    this._runs.forEach((run, i) => this._index.set(run.id, i));
  }

  private _isNewest(run: IRun): boolean {
    return this._runs.length === 0 || run.created_at >= this._runs[0].created_at;
  }

  private async _onEvent(_: Event.IManager, emission: Event.Emission): Promise<void> {
    if (emission.schema_id === RUN_PROGRESS_SCHEMA) {
      this._onProgress(emission);
      return;
    }
    if (emission.schema_id !== RUN_STATE_SCHEMA || typeof emission.run_id !== 'string') {
      return;
    }
    const old = emission.old_state;
    if (!this._states.has(emission.run_id) && typeof old === 'string') {
      this._states.set(emission.run_id, old as RunState);
    }
    try {
      this.update(await this.api.run(emission.run_id));
    } catch {
      // deleted meanwhile: the next reload forgets it
    }
  }

  /** A submission's progress event: the run's copy gets it, no request needed. */
  private _onProgress(emission: Event.Emission): void {
    const run = this._latest.get(String(emission.run_id));
    if (!run || run.state !== 'SUBMITTING') {
      return;
    }
    const { phase, bytes_done, bytes_total, files_done, files_total, rate } = emission;
    this.update({
      ...run,
      progress: {
        phase: String(phase),
        bytes_done: Number(bytes_done),
        bytes_total: Number(bytes_total),
        files_done: Number(files_done),
        files_total: Number(files_total),
        rate: Number(rate)
      }
    });
  }

  /** The fallback: re-read the active runs (and the newest) every few seconds. */
  private async _tick(): Promise<void> {
    if (this._disposed) {
      return;
    }
    if (!document.hidden) {
      try {
        const [active, newest] = await Promise.all([
          this.api.runs({ states: ACTIVE_STATES, limit: 500, points: false }),
          this.api.runs({ limit: 20, points: false })
        ]);
        const seen = new Set<string>();
        for (const run of [...newest.runs, ...active.runs]) {
          if (!seen.has(run.id)) {
            seen.add(run.id);
            this.update(run);
          }
        }
        const ended = this._runs.filter(run => !isTerminal(run.state) && !seen.has(run.id));
        for (const run of ended) {
          this.update(await this.api.run(run.id));
        }
      } catch {
        // the server is away; try again later
      }
    }
    const active = this._runs.some(run => !isTerminal(run.state));
    this._timer = window.setTimeout(
      () => void this._tick(),
      active ? POLL_ACTIVE_MS : POLL_IDLE_MS
    );
  }

  private _events: Event.IManager | null;
  private _runs: IRun[] = [];
  private _index = new Map<string, number>();
  private _states = new Map<string, RunState>();
  private _latest = new Map<string, IRun>();
  private _total = 0;
  private _cursor: string | null = null;
  private _loading = false;
  private _error: string | null = null;
  private _generation = 0;
  private _filter: IRunsFilter = { states: [], site: '', text: '' };
  private _timer = 0;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _stateChanged = new Signal<this, IStateChange>(this);
  private _runUpdated = new Signal<this, IRun>(this);
}
