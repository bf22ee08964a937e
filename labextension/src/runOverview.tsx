/** The overview tab: what ran where, with which resources and parameters, and the script. */
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { IRun } from './api';
import { formatBytes, formatDuration, formatProgress, formatTime } from './format';
import { StateChip } from './stateChip';

function Table(props: { rows: [string, React.ReactNode][]; className?: string }): JSX.Element {
  return (
    <table className={`jp-MantikTable ${props.className ?? ''}`}>
      <tbody>
        {props.rows.map(([label, value]) => (
          <tr key={label}>
            <th>{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function entries(record: Record<string, unknown> | undefined): [string, React.ReactNode][] {
  return Object.entries(record ?? {}).map(([key, value]) => [key, text(value)]);
}

export function RunOverview(props: { run: IRun; trans: TranslationBundle }): JSX.Element {
  const { run, trans } = props;
  const { Resources, Environment, Parameters: _parameters, Data, ...rest } = run.spec;
  // what the run asked for is in its config; what was staged (and from where) once it ran
  const staged: [string, React.ReactNode][] = (run.data ?? []).map(({ item, size, cached }) => [
    item,
    cached
      ? trans.__('%1, from the cache', formatBytes(size))
      : trans.__('%1, downloaded', formatBytes(size))
  ]);
  const summary: [string, React.ReactNode][] = [
    [trans.__('State'), <StateChip state={run.state} trans={trans} />],
    [trans.__('Reason'), run.reason ?? '–'],
    ...(run.progress
      ? [[trans.__('Progress'), formatProgress(run.progress)] as [string, React.ReactNode]]
      : []),
    [trans.__('Site'), run.site],
    [trans.__('Notebook'), run.notebook_path ?? run.notebook],
    [trans.__('Run id'), <code>{run.id}</code>],
    [trans.__('Queued'), formatTime(run.created_at)],
    [trans.__('Started'), formatTime(run.started_at)],
    [trans.__('Ended'), formatTime(run.ended_at)],
    [trans.__('Duration'), formatDuration(run.started_at, run.ended_at)],
    [trans.__('Job id on the site'), run.remote_job_id ?? '–'],
    [trans.__('Native state'), run.native_state ?? '–'],
    [trans.__('Exit code'), run.exit_code ?? '–'],
    [trans.__('Working directory'), <code>{run.work_dir ?? '–'}</code>],
    [trans.__('Bundle hash'), <code className="jp-MantikHash">{run.bundle_hash ?? '–'}</code>],
    [trans.__('Uploaded'), formatBytes(run.bytes_uploaded)],
    [
      trans.__('MLflow'),
      run.mlflow_url ? (
        <a href={run.mlflow_url} target="_blank" rel="noopener noreferrer">
          {trans.__('open run %1 in MLflow', run.mlflow_run_id ?? '')}
        </a>
      ) : (
        run.mlflow_run_id ?? '–'
      )
    ],
    [trans.__('Re-run of'), run.parent_id ?? '–']
  ];
  return (
    <div className="jp-MantikOverview">
      <h2 className="jp-MantikOverview-title">{run.name}</h2>
      <Table rows={summary} />
      <h3>{trans.__('Parameters')}</h3>
      <Table rows={entries(run.parameters)} className="jp-MantikOverview-parameters" />
      <h3>{trans.__('Resources')}</h3>
      <Table rows={entries(Resources)} />
      {Environment && (
        <>
          <h3>{trans.__('Environment')}</h3>
          <Table rows={entries(Environment)} />
        </>
      )}
      {Data !== undefined && (
        <>
          <h3>{trans.__('Data')}</h3>
          {staged.length > 0 ? (
            <Table rows={staged} className="jp-MantikOverview-data" />
          ) : (
            <Table rows={entries({ Data })} className="jp-MantikOverview-data" />
          )}
        </>
      )}
      <h3>{trans.__('Other settings')}</h3>
      <Table rows={entries(rest)} />
      <h3>{trans.__('Job script')}</h3>
      <pre className="jp-MantikScript">{run.script ?? trans.__('(not rendered yet)')}</pre>
    </div>
  );
}
