/**
 * The mantik-jupyter REST API (`{base_url}mantik/api/`, see
 * mantik_jupyter/server/openapi.yaml): typed requests and the error it answers with.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ACTIVE_STATES, RunState } from './runStates';

// the state constants are generated from openapi.yaml (see runStates.ts)
export { ACTIVE_STATES, RUN_STATES, TERMINAL_STATES } from './runStates';
export type { RunState } from './runStates';

export function isTerminal(state: RunState): boolean {
  return !ACTIVE_STATES.includes(state);
}

export interface IRun {
  id: string;
  name: string;
  site: string;
  notebook: string;
  notebook_path: string | null;
  state: RunState;
  native_state: string | null;
  reason: string | null;
  exit_code: number | null;
  remote_job_id: string | null;
  work_dir: string | null;
  parameters: Record<string, unknown>;
  spec: IRunConfig;
  script: string | null;
  bundle_hash: string | null;
  bytes_uploaded: number;
  mlflow_run_id: string | null;
  mlflow_experiment_id: string | null;
  mlflow_url: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  updated_at: string;
  parent_id: string | null;
  /** How far the submission has got while SUBMITTING (null otherwise). */
  progress: IProgress | null;
  /** the CliMetLab Data staged for the run (known once the run has ended) */
  data: IStagedItem[];
  /** the sweep this run is a point of; a sweep's own record holds its own id */
  sweep_id?: string | null;
  /** the run's index among its sweep's points */
  point?: number | null;
}

/** A sweep's own record (its points are runs of their own). */
export function isSweep(run: IRun): boolean {
  return Boolean(run.sweep_id) && run.sweep_id === run.id;
}

/** A point of a sweep (listed under its sweep, not on its own). */
export function isPoint(run: IRun): boolean {
  return Boolean(run.sweep_id) && run.sweep_id !== run.id;
}

/** The Sweep key: a grid of parameters, extra points, repeats, a limit and an objective. */
export interface ISweepKeys {
  Grid?: Record<string, unknown[]>;
  Points?: Record<string, unknown>[];
  Repeat?: number;
  MaxConcurrent?: number;
  Objective?: { Metric: string; Goal?: 'minimize' | 'maximize' };
}

/** POST sweeps/plan: every point a sweep would run and the job arrays they form. */
export interface ISweepPlan {
  points: {
    point: number;
    values: Record<string, unknown>;
    repeat: number;
    site: string;
    parameters: Record<string, unknown>;
  }[];
  arrays: { site: string; resources: Record<string, unknown>; points: number[] }[];
  max_concurrent: number | null;
}

/** One point of a sweep in GET runs/{id}/results. */
export interface IResultRow {
  point: number;
  run_id: string;
  state: RunState;
  reason: string | null;
  site: string;
  parameters: Record<string, unknown>;
  /** seconds from start to end */
  duration: number | null;
  /** the last value of each metric */
  metrics: Record<string, number>;
  best: boolean;
}

/** GET runs/{id}/results: a sweep's points ranked by its objective, the best marked. */
export interface ISweepResults {
  sweep: string;
  state: RunState;
  metric: string | null;
  goal: 'minimize' | 'maximize';
  rows: IResultRow[];
}

/** One Data item as staged on the site. */
export interface IStagedItem {
  /** the dataset or source with its arguments */
  item: string;
  /** bytes on the site */
  size: number;
  /** it was in the site's cache already */
  cached: boolean;
}

/** A submission's progress: the phase, what of it is done, and the rate in bytes/s. */
export interface IProgress {
  phase: string;
  bytes_done: number;
  bytes_total: number;
  files_done: number;
  files_total: number;
  rate: number;
}

/** The run configuration (Mantik backend-config keys plus this project's). */
export interface IRunConfig {
  Resources?: Record<string, unknown>;
  Environment?: Record<string, unknown>;
  Parameters?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IRunsPage {
  runs: IRun[];
  total: number;
  next_cursor: string | null;
}

export interface IRunsQuery {
  states?: RunState[];
  site?: string;
  text?: string;
  limit?: number;
  cursor?: string | null;
  /** false: leave out sweeps' points (each sweep stands for its own) */
  points?: boolean;
  /** only the points of this sweep */
  sweep?: string;
}

export interface IHealth {
  ok: boolean;
  message: string;
  time: string;
}

export interface ISite {
  name: string;
  kind: string;
  title: string;
  settings: Record<string, unknown>;
  preset: boolean;
  health: IHealth | null;
  /** preset, admin or user; only user profiles can be edited */
  origin?: string;
  credentials_set?: boolean;
}

/** A JSON schema (the subset the site form reads). */
export interface IJsonSchema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, IJsonSchema>;
  items?: IJsonSchema;
  required?: string[];
  title?: string;
  description?: string;
}

/** GET sites: the sites, and the profile schema once the server manages profiles. */
export interface ISitesReply {
  sites: ISite[];
  schema?: IJsonSchema;
}

export interface IServerConfig {
  version: string;
  features: string[];
  defaults: { site?: string };
  tracking_uri: string;
  mlflow_ui_url: string | null;
  event_schema: string;
}

export interface ILogChunk {
  data: string;
  offset: number;
  next_offset: number;
  eof: boolean;
  state: RunState;
}

export interface IFileEntry {
  path: string;
  is_dir: boolean;
  size: number;
  modified: string | null;
}

export interface IParameter {
  name: string;
  type: 'int' | 'float' | 'bool' | 'str' | 'list' | 'dict' | null;
  default: unknown;
  default_text: string;
  help: string;
}

/** The engine's SubmitRequest as JSON: the body of POST runs. */
export interface ISubmitRequest {
  /** path in the contents root */
  notebook: string;
  site?: string;
  /** an object, or YAML text */
  config?: IRunConfig | string;
  /** typed values */
  parameters?: Record<string, unknown>;
  /** texts the engine converts to the declared types: by name, or `NAME=VALUE` items */
  parameter_texts?: Record<string, string> | string[];
  name?: string;
  /** keys of the config's Schedule section (At; or Cron, Timezone, ...) merged into it */
  schedule?: IScheduleKeys;
  /** a sweep: the Sweep key's parts merged over the config's */
  sweep?: ISweepKeys;
  /** sweep dimensions as `NAME=V1,V2` texts, converted to the declared types per point */
  sweep_texts?: string[];
  repeat?: number;
  max_concurrent?: number;
}

/** The Schedule section: once `At` a time, or repeating on a `Cron` in a `Timezone`. */
export interface IScheduleKeys {
  At?: string;
  Cron?: string;
  Timezone?: string;
  Until?: string;
  Count?: number;
  Catchup?: 'latest' | 'none';
}

/** A recurring schedule as GET schedules returns it. */
export interface ISchedule {
  id: string;
  name: string;
  site: string;
  notebook: string;
  cron: string;
  /** the cron in English words ("At 03:00, only on Monday") */
  cron_text: string;
  timezone: string;
  until: string | null;
  count: number | null;
  catchup: 'latest' | 'none';
  paused: boolean;
  deleted: boolean;
  /** the occurrence waiting on the site (ISO, UTC) */
  next_time: string | null;
  last_error: string | null;
  runs: number;
  last_run: { id: string; occurrence: string; state: RunState } | null;
}

/** One occurrence a schedule queued, with its run (null once the run was deleted). */
export interface IScheduleOccurrence {
  /** the occurrence time (ISO, UTC) */
  occurrence: string;
  run: IRun | null;
}

/** The engine's RerunChanges as JSON: the body of POST runs/{id}/rerun. */
export interface IRerunChanges
  extends Omit<ISubmitRequest, 'notebook' | 'sweep' | 'sweep_texts' | 'repeat' | 'max_concurrent'> {
  /** config and parameters replace the run's instead of merging into them */
  replace?: boolean;
}

/** What the submit form fills in: a re-run's changes, or a new submission's fields. */
export type ISubmission = IRerunChanges &
  Pick<ISubmitRequest, 'sweep' | 'sweep_texts' | 'repeat' | 'max_concurrent'>;

/** The SubmitRequest of a notebook with the form's fields (`replace` is re-run only). */
export function submitRequest(notebook: string, submission: ISubmission): ISubmitRequest {
  const { replace: _replace, ...fields } = submission;
  return { notebook, ...fields };
}

/** An error answered by the API: `{reason, message, details: {key}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly key: string | null
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A client of the mantik REST API bound to the lab's server settings. */
export class MantikApi {
  constructor(readonly settings: ServerConnection.ISettings) {}

  url(path: string, query: Record<string, string | string[] | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== '') {
          params.append(key, item);
        }
      }
    }
    const search = params.toString();
    const base = URLExt.join(this.settings.baseUrl, 'mantik', 'api', path);
    return search ? `${base}?${search}` : base;
  }

  /** The raw response of a request; an ApiError unless it succeeded. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ServerConnection.NetworkError(error as TypeError);
    }
    if (!response.ok) {
      const text = await response.text();
      let body: { reason?: string; message?: string; details?: { key?: string } } = {};
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text || response.statusText };
      }
      throw new ApiError(
        response.status,
        body.reason ?? 'error',
        body.message ?? response.statusText,
        body.details?.key ?? null
      );
    }
    return response;
  }

  async request<T>(
    path: string,
    init: RequestInit = {},
    query: Record<string, string | string[] | undefined> = {}
  ): Promise<T> {
    const response = await this.fetch(this.url(path, query), init);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>(path, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    });
  }

  config(): Promise<IServerConfig> {
    return this.request('config');
  }

  /** Tell the server this frontend answers the magics' `mantik:save` comm of a kernel. */
  announceSaveFrontend(kernelId: string): Promise<{ saves: boolean }> {
    return this.send('PUT', `kernels/${encodeURIComponent(kernelId)}/save-frontend`);
  }

  async sites(): Promise<ISite[]> {
    return (await this.sitesReply()).sites;
  }

  sitesReply(): Promise<ISitesReply> {
    return this.request('sites');
  }

  addSite(profile: Record<string, unknown>): Promise<ISite> {
    return this.send('POST', 'sites', profile);
  }

  updateSite(name: string, profile: Record<string, unknown>): Promise<ISite> {
    return this.send('PUT', `sites/${encodeURIComponent(name)}`, profile);
  }

  async removeSite(name: string): Promise<void> {
    await this.send('DELETE', `sites/${encodeURIComponent(name)}`);
  }

  async setCredentials(name: string, secret: string): Promise<void> {
    await this.send('PUT', `sites/${encodeURIComponent(name)}/credentials`, { secret });
  }

  testSite(name: string): Promise<IHealth> {
    return this.send('POST', `sites/${encodeURIComponent(name)}/test`);
  }

  runs(query: IRunsQuery): Promise<IRunsPage> {
    return this.request('runs', {}, {
      state: query.states,
      site: query.site,
      text: query.text,
      limit: String(query.limit ?? 100),
      cursor: query.cursor ?? undefined,
      points: query.points === false ? 'false' : undefined,
      sweep: query.sweep
    });
  }

  /** A sweep's points side by side, ranked by its objective. */
  results(id: string): Promise<ISweepResults> {
    return this.request(`runs/${id}/results`);
  }

  /** The points and arrays a sweep would form; nothing is sent to a site. */
  planSweep(request: ISubmitRequest): Promise<ISweepPlan> {
    return this.send('POST', 'sweeps/plan', request);
  }

  /** A new sweep of the points of a sweep that did not complete. */
  rerunFailed(id: string): Promise<IRun> {
    return this.send('POST', `runs/${id}/rerun`, { failed: true });
  }

  run(id: string): Promise<IRun> {
    return this.request(`runs/${id}`);
  }

  submit(request: ISubmitRequest): Promise<IRun> {
    return this.send('POST', 'runs', request);
  }

  rerun(id: string, changes: IRerunChanges): Promise<IRun> {
    return this.send('POST', `runs/${id}/rerun`, changes);
  }

  rename(id: string, name: string): Promise<IRun> {
    return this.send('PATCH', `runs/${id}`, { name });
  }

  cancel(id: string): Promise<IRun> {
    return this.send('PATCH', `runs/${id}`, { action: 'cancel' });
  }

  async remove(id: string, remote: boolean): Promise<void> {
    await this.request(`runs/${id}`, { method: 'DELETE' }, { remote: String(remote) });
  }

  logs(id: string, offset: number, limit: number): Promise<ILogChunk> {
    return this.request(`runs/${id}/logs`, {}, {
      offset: String(offset),
      limit: String(limit)
    });
  }

  async files(id: string, path: string): Promise<IFileEntry[]> {
    return (await this.request<{ files: IFileEntry[] }>(`runs/${id}/files`, {}, { path })).files;
  }

  /** A file of the run, or a folder as a zip, with the name the server gives it. */
  async download(id: string, path: string): Promise<{ blob: Blob; filename: string }> {
    const response = await this.fetch(this.url(`runs/${id}/download`, { path }));
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const match = /filename="([^"]+)"/.exec(disposition);
    return { blob: await response.blob(), filename: match ? match[1] : 'download' };
  }

  async fetchNotebook(id: string): Promise<string> {
    return (await this.send<{ path: string }>('POST', `runs/${id}/notebook`)).path;
  }

  async parameters(path: string): Promise<IParameter[]> {
    return (
      await this.request<{ parameters: IParameter[] }>('notebooks/parameters', {}, { path })
    ).parameters;
  }

  async schedules(): Promise<ISchedule[]> {
    return (await this.request<{ schedules: ISchedule[] }>('schedules')).schedules;
  }

  /** Add a recurring schedule (a request whose schedule has Cron); its first run waits. */
  addSchedule(request: ISubmitRequest): Promise<ISchedule> {
    return this.send('POST', 'schedules', request);
  }

  setSchedulePaused(id: string, paused: boolean): Promise<ISchedule> {
    return this.send('PATCH', `schedules/${id}`, { action: paused ? 'pause' : 'resume' });
  }

  async removeSchedule(id: string): Promise<void> {
    await this.send('DELETE', `schedules/${id}`);
  }

  /** The runs a schedule queued, latest occurrence first. */
  async scheduleRuns(id: string): Promise<IScheduleOccurrence[]> {
    return (await this.request<{ runs: IScheduleOccurrence[] }>(`schedules/${id}/runs`)).runs;
  }
}
