/**
 * A sweep's own action beside the run actions (cancel works on a sweep as on a run: every
 * unfinished point ends): re-run its failed points as a new sweep linked to it.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { redoIcon } from '@jupyterlab/ui-components';

import { IRun, MantikApi, isSweep } from './api';
import { CommandIds } from './commandIds';
import { DetailsTab } from './details';
import { runIdOf } from './runCommands';
import { RunsModel } from './runsModel';

export interface ISweepCommandsContext {
  app: JupyterFrontEnd;
  api: MantikApi;
  model: RunsModel;
  trans: TranslationBundle;
  openDetails: (run: IRun, tab: DetailsTab) => void;
}

export function addSweepCommands(context: ISweepCommandsContext): void {
  const { app, api, model, trans } = context;
  app.commands.addCommand(CommandIds.rerunFailed, {
    label: trans.__('Re-run Failed Points'),
    caption: trans.__('Submit the points that did not complete again, as a new sweep'),
    icon: redoIcon,
    isVisible: args => {
      const id = runIdOf(app, args);
      const run = id ? model.get(id) : undefined;
      return run ? isSweep(run) : true;
    },
    execute: async args => {
      const id = runIdOf(app, args);
      if (!id) {
        return;
      }
      try {
        const sweep = model.get(id);
        const again = await api.rerunFailed(id);
        model.update(again);
        Notification.success(
          trans.__('The failed points of %1 run again as %2', sweep?.name ?? id, again.name),
          {
            autoClose: 8000,
            actions: [
              {
                label: trans.__('Show results'),
                callback: () => context.openDetails(again, 'results')
              }
            ]
          }
        );
        context.openDetails(again, 'results');
      } catch (error) {
        await showErrorMessage(trans.__('Cannot re-run the failed points'), error as Error);
      }
    }
  });
}
