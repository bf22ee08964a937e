/**
 * The schedules section of the panel: each recurring schedule's cron and zone, its next
 * run in the user's own time, its last run's state, with pause/resume and delete. The
 * next run always waits on the site already; the section only shows and steers it.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { ISchedule, MantikApi } from './api';
import { formatTime } from './format';
import { RunsModel } from './runsModel';
import { StateChip } from './stateChip';

export interface ISchedulesSectionProps {
  api: MantikApi;
  model: RunsModel;
  trans: TranslationBundle;
}

interface IState {
  schedules: ISchedule[];
  error: string | null;
  open: boolean;
}

export class SchedulesSection extends React.Component<ISchedulesSectionProps, IState> {
  state: IState = { schedules: [], error: null, open: true };

  componentDidMount(): void {
    // a schedule's runs arrive as runs: the list changes whenever one is queued or ends
    this.props.model.changed.connect(this._refresh, this);
    void this.refresh();
  }

  componentWillUnmount(): void {
    this.props.model.changed.disconnect(this._refresh, this);
  }

  async refresh(): Promise<void> {
    try {
      this.setState({ schedules: await this.props.api.schedules(), error: null });
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
    return (
      <li
        key={schedule.id}
        className="jp-MantikSite jp-MantikSchedule"
        data-schedule-id={schedule.id}
      >
        <span className="jp-MantikSite-name">{schedule.name}</span>
        <code className="jp-MantikSchedule-cron" title={schedule.timezone}>
          {schedule.cron}
        </code>
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
      </li>
    );
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
