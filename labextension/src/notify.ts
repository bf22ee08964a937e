/** A JupyterLab notification when a run finishes, fails or is cancelled. */
import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { IRun, RunState } from './api';
import { CommandIds } from './commandIds';

const KIND: Partial<Record<RunState, Notification.TypeOptions>> = {
  COMPLETED: 'success',
  FAILED: 'error',
  TIMEOUT: 'error',
  CANCELLED: 'warning'
};

export class RunNotifier {
  constructor(
    private readonly _commands: CommandRegistry,
    private readonly _trans: TranslationBundle
  ) {}

  enabled = true;

  /** Announce a run's new state once, if it is an end worth telling. */
  notify(run: IRun): void {
    const kind = KIND[run.state];
    const key = `${run.id}:${run.state}`;
    if (!this.enabled || !kind || this._told.has(key)) {
      return;
    }
    this._told.add(key);
    const trans = this._trans;
    const message = {
      COMPLETED: trans.__('Run %1 completed on %2', run.name, run.site),
      FAILED: trans.__('Run %1 failed on %2', run.name, run.site),
      TIMEOUT: trans.__('Run %1 ran out of time on %2', run.name, run.site),
      CANCELLED: trans.__('Run %1 was cancelled on %2', run.name, run.site)
    }[run.state as 'COMPLETED' | 'FAILED' | 'TIMEOUT' | 'CANCELLED'];
    Notification.emit(run.reason && kind === 'error' ? `${message}: ${run.reason}` : message, kind, {
      autoClose: kind === 'error' ? false : 8000,
      actions: [
        {
          label: trans.__('Show log'),
          caption: trans.__('Open the log of %1', run.name),
          callback: () => void this._commands.execute(CommandIds.showLog, { id: run.id })
        }
      ]
    });
  }

  private _told = new Set<string>();
}
