/**
 * The "HPC runs" side panel: filters, the windowed list of runs (pages load as it
 * scrolls), each run's actions, and the sites.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ellipsesIcon, listIcon, stopIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Menu } from '@lumino/widgets';
import React from 'react';

import {
  ACTIVE_STATES,
  IRun,
  MantikApi,
  RUN_STATES,
  RunState,
  isSweep,
  isTerminal
} from './api';
import { CommandIds, RUN_COMMANDS } from './commandIds';
import { formatDuration, formatProgress, formatTime, progressShare } from './format';
import { mantikIcon } from './icons';
import { RunsModel } from './runsModel';
import { SchedulesSection } from './schedulesSection';
import { SitesSection } from './sitesSection';
import { StateChip, stateLabel } from './stateChip';
import { SweepPoints, sweptNames } from './sweepPoints';
import { ExpandToggle, PointRow, SweepProgress } from './sweepRows';
import { WindowedList } from './windowedList';

const ROW_HEIGHT = 52;
const ACTIVE_FILTER = 'active';
const TEXT_DELAY_MS = 250;

export interface IRunsPanelOptions {
  api: MantikApi;
  model: RunsModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
}

interface IViewState {
  text: string;
  sites: string[];
  /** the sweeps whose points are shown under their row */
  expanded: ReadonlySet<string>;
}

/** A row of the list: a run (a sweep among them), or a point of an expanded sweep. */
type ListItem = { run: IRun; names?: undefined } | { run: IRun; names: string[] };

class RunsView extends React.Component<IRunsPanelOptions, IViewState> {
  state: IViewState = { text: '', sites: [], expanded: new Set() };

  componentDidMount(): void {
    this.props.model.changed.connect(this._onChanged, this);
    this._sweeps.changed.connect(this._onChanged, this);
    this._clock = window.setInterval(() => {
      if (this.props.model.runs.some(run => !isTerminal(run.state))) {
        this.forceUpdate();
      }
    }, 1000);
    this.props.api
      .sites()
      .then(sites => this.setState({ sites: sites.map(s => s.name) }))
      .catch(() => undefined);
  }

  componentWillUnmount(): void {
    this.props.model.changed.disconnect(this._onChanged, this);
    this._sweeps.dispose();
    window.clearInterval(this._clock);
    window.clearTimeout(this._textTimer);
  }

  render(): React.ReactNode {
    const { model, trans, api } = this.props;
    const { states, site } = model.filter;
    const stateValue =
      states.length === 0 ? '' : states.length === 1 ? states[0] : ACTIVE_FILTER;
    return (
      <div className="jp-MantikRuns">
        <header className="jp-MantikRuns-header">
          <mantikIcon.react tag="span" className="jp-MantikRuns-logo" />
          <h2>{trans.__('HPC runs')}</h2>
        </header>
        <div className="jp-MantikRuns-filters">
          <input
            className="jp-mod-styled jp-MantikRuns-search"
            type="search"
            placeholder={trans.__('Search name, notebook or id')}
            value={this.state.text}
            onChange={event => this._setText(event.target.value)}
          />
          <select
            className="jp-mod-styled jp-MantikRuns-stateFilter"
            value={stateValue}
            aria-label={trans.__('Filter by state')}
            onChange={event => {
              const value = event.target.value;
              model.setFilter({
                states:
                  value === ACTIVE_FILTER
                    ? ACTIVE_STATES
                    : value
                      ? [value as RunState]
                      : []
              });
            }}
          >
            <option value="">{trans.__('All states')}</option>
            <option value={ACTIVE_FILTER}>{trans.__('Active')}</option>
            {RUN_STATES.map(state => (
              <option key={state} value={state}>
                {stateLabel(state, trans)}
              </option>
            ))}
          </select>
          <select
            className="jp-mod-styled jp-MantikRuns-siteFilter"
            value={site}
            aria-label={trans.__('Filter by site')}
            onChange={event => model.setFilter({ site: event.target.value })}
          >
            <option value="">{trans.__('All sites')}</option>
            {this.state.sites.map(name => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div className="jp-MantikRuns-summary">
          {model.error
            ? trans.__('Cannot load runs: %1', model.error)
            : model.loading && model.runs.length === 0
              ? trans.__('Loading…')
              : trans._n('%1 run', '%1 runs', model.total)}
        </div>
        {!model.loading && !model.error && model.total === 0 && (
          <div className="jp-MantikEmpty jp-MantikRuns-empty">
            {trans.__('No runs yet. Submit a notebook with the toolbar button of a notebook.')}
          </div>
        )}
        <WindowedList
          className="jp-MantikRuns-list"
          items={this._items()}
          rowHeight={ROW_HEIGHT}
          resetKey={JSON.stringify(model.filter)}
          onNearEnd={() => void model.loadMore()}
          renderRow={item =>
            item.names ? (
              <PointRow
                point={item.run}
                names={item.names}
                trans={trans}
                onOpen={() => void this.props.commands.execute(CommandIds.openRun, { id: item.run.id })}
              />
            ) : (
              this._row(item.run)
            )
          }
        />
        <SchedulesSection api={api} commands={this.props.commands} model={model} trans={trans} />
        <SitesSection api={api} trans={trans} />
      </div>
    );
  }

  /** The listed runs, each expanded sweep followed by its points. */
  private _items(): ListItem[] {
    const items: ListItem[] = [];
    for (const run of this.props.model.runs) {
      items.push({ run });
      const points = this.state.expanded.has(run.id) ? this._sweeps.points(run) : null;
      if (points) {
        const names = sweptNames(points);
        items.push(...points.map(point => ({ run: point, names })));
      }
    }
    return items;
  }

  private _toggle(id: string): void {
    const expanded = new Set(this.state.expanded);
    if (!expanded.delete(id)) {
      expanded.add(id);
    }
    this.setState({ expanded });
  }

  private _row(run: IRun): JSX.Element {
    const { commands, trans } = this.props;
    const active = !isTerminal(run.state);
    const points = isSweep(run) ? this._sweeps.points(run) : null;
    return (
      <div
        className="jp-MantikRuns-row"
        data-run-id={run.id}
        data-state={run.state}
        onClick={() => void commands.execute(CommandIds.openRun, { id: run.id })}
        title={run.reason ?? run.name}
      >
        <div className="jp-MantikRuns-line">
          {isSweep(run) && (
            <ExpandToggle
              expanded={this.state.expanded.has(run.id)}
              trans={trans}
              onToggle={() => this._toggle(run.id)}
            />
          )}
          <StateChip state={run.state} trans={trans} />
          <span className="jp-MantikRuns-name">{run.name}</span>
          <span className="jp-MantikRuns-duration">
            {run.progress
              ? `${run.progress.phase} ${Math.round(progressShare(run.progress) * 100)}%`
              : formatDuration(run.started_at, run.ended_at)}
          </span>
        </div>
        <div className="jp-MantikRuns-line jp-MantikRuns-meta">
          <span className="jp-MantikRuns-notebook">{run.notebook_path ?? run.notebook}</span>
          <span className="jp-MantikRuns-site">{run.site}</span>
          <span
            className="jp-MantikRuns-times"
            title={trans.__(
              'queued %1, started %2',
              formatTime(run.created_at),
              formatTime(run.started_at)
            )}
          >
            {formatTime(run.started_at ?? run.created_at)}
          </span>
          <span className="jp-MantikRuns-actions">
            <button
              className="jp-MantikIconButton jp-MantikRuns-log"
              title={trans.__('Show log')}
              onClick={event => this._do(event, CommandIds.showLog, run)}
            >
              <listIcon.react tag="span" />
            </button>
            {active && (
              <button
                className="jp-MantikIconButton jp-MantikRuns-cancel"
                title={trans.__('Cancel run')}
                onClick={event => this._do(event, CommandIds.cancel, run)}
              >
                <stopIcon.react tag="span" />
              </button>
            )}
            <button
              className="jp-MantikIconButton jp-MantikRuns-more"
              title={trans.__('More actions')}
              onClick={event => this._menu(event, run)}
            >
              <ellipsesIcon.react tag="span" />
            </button>
          </span>
        </div>
        {run.progress && (
          <div
            className="jp-MantikRuns-progress"
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(progressShare(run.progress) * 100)}
            title={formatProgress(run.progress)}
          >
            <div
              className="jp-MantikRuns-progressDone"
              style={{ width: `${progressShare(run.progress) * 100}%` }}
            />
          </div>
        )}
        {points && run.state !== 'SUBMITTING' && <SweepProgress points={points} trans={trans} />}
      </div>
    );
  }

  private _do(event: React.MouseEvent, command: string, run: IRun): void {
    event.stopPropagation();
    void this.props.commands.execute(command, { id: run.id });
  }

  private _menu(event: React.MouseEvent, run: IRun): void {
    event.stopPropagation();
    const menu = new Menu({ commands: this.props.commands });
    menu.addClass('jp-MantikRuns-menu');
    menu.aboutToClose.connect(() => window.setTimeout(() => menu.dispose()));
    for (const command of RUN_COMMANDS) {
      menu.addItem({ command, args: { id: run.id } });
    }
    const rect = (event.currentTarget as HTMLElement).getBoundingClientRect();
    menu.open(rect.left, rect.bottom);
  }

  private _setText(text: string): void {
    this.setState({ text });
    window.clearTimeout(this._textTimer);
    this._textTimer = window.setTimeout(
      () => this.props.model.setFilter({ text }),
      TEXT_DELAY_MS
    );
  }

  private _onChanged(): void {
    this.forceUpdate();
  }

  private _clock = 0;
  private _textTimer = 0;
  private _sweeps = new SweepPoints(this.props.api, this.props.model);
}

export class RunsPanel extends ReactWidget {
  constructor(private readonly _options: IRunsPanelOptions) {
    super();
    this.id = 'mantik-runs-panel';
    this.addClass('jp-MantikRunsPanel');
    this.title.icon = mantikIcon;
    this.title.caption = _options.trans.__('HPC runs');
  }

  protected render(): JSX.Element {
    return <RunsView {...this._options} />;
  }
}
