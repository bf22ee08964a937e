/**
 * The schedules section of the panel: each recurring schedule's cron in words and zone,
 * its next run in the user's own time, its last run's state, with pause/resume, delete
 * and its history (each run opens its details). The next run always waits on the site
 * already; the section only shows and steers it.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import React from 'react';

import { ISchedule, IScheduleOccurrence, MantikApi } from './api';
import { CommandIds } from './commandIds';
import { formatTime } from './format';
import { RunsModel } from './runsModel';
import { StateChip } from './stateChip';

export interface ISchedulesSectionProps {
  api: MantikApi;
  commands: CommandRegistry;
  model: RunsModel;
  trans: TranslationBundle;
}

interface IState {
  schedules: ISchedule[];
  error: string | null;
  open: boolean;
  /** the history of each schedule whose history is open, by schedule id */
  histories: Record<string, IScheduleOccurrence[]>;
}

export class SchedulesSection extends React.Component<ISchedulesSectionProps, IState> {
  state: IState = { schedules: [], error: null, open: true, histories: {} };

  componentDidMount(): void {
    // a schedule's runs arrive as runs: the list changes whenever one is queued or ends
    this.props.model.changed.connect(this._refresh, this);
    void this.refresh();
  }

  componentWillUnmount(): void {
    this.props.model.changed.disconnect(this._refresh, this);
  }

  async refresh(): Promise<void> {
    const { api } = this.props;
    try {
      const schedules = await api.schedules();
      const listed = (id: string) => schedules.some(schedule => schedule.id === id);
      // the open histories are read again: a run was queued or changed state
      const fresh: Record<string, IScheduleOccurrence[]> = {};
      for (const id of Object.keys(this.state.histories).filter(listed)) {
        fresh[id] = await api.scheduleRuns(id);
      }
      // a history opened or closed meanwhile stays so
      this.setState(current => {
        const histories: Record<string, IScheduleOccurrence[]> = {};
        for (const [id, shown] of Object.entries(current.histories)) {
          if (listed(id)) {
            histories[id] = fresh[id] ?? shown;
          }
        }
        return { schedules, histories, error: null };
      });
    } catch (error) {
      this.setState({ error: String((error as Error).message ?? error) });
    }
  }

  render(): React.ReactNode {
    const { trans } = this.props;
    const { schedules, error, open } = this.state;
    return (
      <section className="jp-MantikSites jp-MantikSchedules">
        <button
          className="jp-MantikSites-header"
          aria-expanded={open}
          onClick={() => this.setState({ open: !open })}
        >
          <span className={`jp-MantikCaret${open ? ' jp-mod-open' : ''}`} />
          {trans.__('Schedules')}
        </button>
        {open && error && <div className="jp-MantikError">{error}</div>}
        {open && schedules.length === 0 && !error && (
          <div className="jp-MantikEmpty">
            {trans.__('No schedules. Choose "repeat" under When in the submit dialog.')}
          </div>
        )}
        {open && (
          <ul className="jp-MantikSites-list">
            {schedules.map(schedule => this._item(schedule))}
          </ul>
        )}
      </section>
    );
  }

  private _item(schedule: ISchedule): JSX.Element {
    const { trans } = this.props;
    const last = schedule.last_run;
    const history = this.state.histories[schedule.id];
    return (
      <li
        key={schedule.id}
        className="jp-MantikSite jp-MantikSchedule"
        data-schedule-id={schedule.id}
      >
        <span className="jp-MantikSite-name">{schedule.name}</span>
        <span
          className="jp-MantikSchedule-cron"
          data-cron={schedule.cron}
          title={trans.__('cron %1 in %2', schedule.cron, schedule.timezone)}
        >
          {schedule.cron_text}
        </span>
        {last && <StateChip state={last.state} trans={trans} />}
        <span className="jp-MantikSite-info">
          <span className="jp-MantikSchedule-next">
            {schedule.paused
              ? trans.__('paused')
              : trans.__('next %1', formatTime(schedule.next_time))}
          </span>
          <span>{trans.__('%1, %2', schedule.timezone, schedule.site)}</span>
        </span>
        <span className="jp-MantikSchedule-actions">
          <button
            className="jp-Button jp-mod-styled jp-mod-reject jp-MantikSchedule-history"
            aria-expanded={history !== undefined}
            title={trans._n('%1 run so far', '%1 runs so far', schedule.runs)}
            onClick={() => void this._toggleHistory(schedule)}
          >
            {trans.__('History')}
          </button>
          <button
            className="jp-Button jp-mod-styled jp-mod-reject jp-MantikSchedule-pause"
            onClick={() =>
              void this._act(schedule, () =>
                this.props.api.setSchedulePaused(schedule.id, !schedule.paused)
              )
            }
          >
            {schedule.paused ? trans.__('Resume') : trans.__('Pause')}
          </button>
          <button
            className="jp-Button jp-mod-styled jp-mod-reject jp-MantikSchedule-delete"
            onClick={() => void this._remove(schedule)}
          >
            {trans.__('Delete')}
          </button>
        </span>
        {schedule.last_error && (
          <div className="jp-MantikSite-message jp-MantikSite-message-failed">
            {schedule.last_error}
          </div>
        )}
        {history && this._history(history)}
      </li>
    );
  }

  private _history(history: IScheduleOccurrence[]): JSX.Element {
    const { commands, trans } = this.props;
    return (
      <ol className="jp-MantikSchedule-historyList">
        {history.length === 0 && <li className="jp-MantikEmpty">{trans.__('No runs yet')}</li>}
        {history.map(({ occurrence, run }) => (
          <li key={occurrence} className="jp-MantikSchedule-occurrence">
            <span className="jp-MantikSchedule-when">{formatTime(occurrence)}</span>
            {run ? (
              <>
                <StateChip state={run.state} trans={trans} />
                <button
                  className="jp-MantikLink"
                  title={trans.__('Open run %1', run.id)}
                  onClick={() => void commands.execute(CommandIds.openRun, { id: run.id })}
                >
                  {run.name}
                </button>
              </>
            ) : (
              <span>{trans.__('run deleted')}</span>
            )}
          </li>
        ))}
      </ol>
    );
  }

  private async _toggleHistory(schedule: ISchedule): Promise<void> {
    const { id } = schedule;
    if (this.state.histories[id]) {
      this.setState(current => {
        const histories = { ...current.histories };
        delete histories[id];
        return { histories };
      });
      return;
    }
    try {
      const history = await this.props.api.scheduleRuns(id);
      this.setState(current => ({ histories: { ...current.histories, [id]: history } }));
    } catch (error) {
      await showErrorMessage(
        this.props.trans.__('Cannot read the history of %1', schedule.name),
        error as Error
      );
    }
  }

  private async _remove(schedule: ISchedule): Promise<void> {
    const { trans } = this.props;
    const answer = await showDialog({
      title: trans.__('Delete schedule %1?', schedule.name),
      body: trans.__('Its run waiting on the site is cancelled; past runs are kept.'),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Delete') })]
    });
    if (answer.button.accept) {
      await this._act(schedule, () => this.props.api.removeSchedule(schedule.id));
    }
  }

  private async _act(schedule: ISchedule, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      await showErrorMessage(
        this.props.trans.__('Cannot change schedule %1', schedule.name),
        error as Error
      );
    }
    await this.refresh();
  }

  private _refresh(): void {
    void this.refresh();
  }
}
