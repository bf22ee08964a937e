/**
 * A run's actions as commands taking `{id}` (or the run under the context menu):
 * details, log, cancel, re-run with changes, rename, delete, download, executed
 * notebook, MLflow.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, InputDialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  closeIcon,
  downloadIcon,
  editIcon,
  launchIcon,
  listIcon,
  notebookIcon,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IRun, MantikApi, isSweep, isTerminal } from './api';
import { CommandIds } from './commandIds';
import { DetailsTab } from './details';
import { saveBlob } from './download';
import { RunsModel } from './runsModel';

export interface IRunCommandsContext {
  app: JupyterFrontEnd;
  api: MantikApi;
  model: RunsModel;
  trans: TranslationBundle;
  openDetails: (run: IRun, tab: DetailsTab) => void;
  rerun: (run: IRun) => Promise<void>;
}

/** The id a command acts on: its `id` argument or the run row under the context menu. */
export function runIdOf(app: JupyterFrontEnd, args: ReadonlyPartialJSONObject): string | null {
  if (typeof args.id === 'string') {
    return args.id;
  }
  const node = app.contextMenuHitTest(element => element.dataset.runId !== undefined);
  return node?.dataset.runId ?? null;
}

export function addRunCommands(context: IRunCommandsContext): void {
  const { app, api, model, trans } = context;

  /** The run the command acts on, fresh from the server. */
  async function target(args: ReadonlyPartialJSONObject): Promise<IRun | null> {
    const id = runIdOf(app, args);
    if (!id) {
      return null;
    }
    const run = await api.run(id);
    model.update(run);
    return run;
  }

  /** Whether the run (as last seen) passes a test; unknown runs are allowed. */
  function when(test: (run: IRun) => boolean) {
    return (args: ReadonlyPartialJSONObject) => {
      const id = runIdOf(app, args);
      const run = id ? model.get(id) : undefined;
      return run ? test(run) : true;
    };
  }

  function add(
    id: string,
    options: {
      label: string;
      icon: typeof closeIcon;
      isEnabled?: (args: ReadonlyPartialJSONObject) => boolean;
      run: (run: IRun) => Promise<void>;
      failure: string;
    }
  ): void {
    app.commands.addCommand(id, {
      label: options.label,
      icon: options.icon,
      isEnabled: options.isEnabled,
      execute: async args => {
        try {
          const run = await target(args);
          if (run) {
            await options.run(run);
          }
        } catch (error) {
          await showErrorMessage(options.failure, error as Error);
        }
      }
    });
  }

  add(CommandIds.openRun, {
    label: trans.__('Open Run Details'),
    icon: listIcon,
    run: async run => context.openDetails(run, isSweep(run) ? 'results' : 'overview'),
    failure: trans.__('Cannot open the run')
  });

  add(CommandIds.showLog, {
    label: trans.__('Show Log'),
    icon: listIcon,
    run: async run => context.openDetails(run, 'log'),
    failure: trans.__('Cannot open the log')
  });

  add(CommandIds.cancel, {
    label: trans.__('Cancel Run…'),
    icon: stopIcon,
    isEnabled: when(run => !isTerminal(run.state)),
    run: async run => {
      const answer = await showDialog({
        title: trans.__('Cancel run %1?', run.name),
        body: trans.__(
          'The job on %1 is stopped; its output so far is kept. This cannot be undone.',
          run.site
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Keep running') }),
          Dialog.warnButton({ label: trans.__('Cancel run') })
        ]
      });
      if (answer.button.accept) {
        model.update(await api.cancel(run.id));
      }
    },
    failure: trans.__('Cannot cancel the run')
  });

  add(CommandIds.rerun, {
    label: trans.__('Re-run with Changes…'),
    icon: refreshIcon,
    run: run => context.rerun(run),
    failure: trans.__('Cannot re-run')
  });

  add(CommandIds.rename, {
    label: trans.__('Rename Run…'),
    icon: editIcon,
    run: async run => {
      const answer = await InputDialog.getText({
        title: trans.__('Rename run'),
        text: run.name,
        okLabel: trans.__('Rename')
      });
      if (answer.button.accept && answer.value && answer.value !== run.name) {
        model.update(await api.rename(run.id, answer.value));
      }
    },
    failure: trans.__('Cannot rename the run')
  });

  add(CommandIds.remove, {
    label: trans.__('Delete Run…'),
    icon: closeIcon,
    isEnabled: when(run => isTerminal(run.state)),
    run: async run => {
      const answer = await showDialog({
        title: trans.__('Delete run %1?', run.name),
        body: trans.__('The run leaves this list. Its MLflow run is kept.'),
        checkbox: {
          label: trans.__('Also remove its directory on %1', run.site),
          caption: run.work_dir ?? '',
          checked: false
        },
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Delete') })]
      });
      if (answer.button.accept) {
        await api.remove(run.id, Boolean(answer.isChecked));
        model.remove(run.id);
      }
    },
    failure: trans.__('Cannot delete the run')
  });

  add(CommandIds.download, {
    label: trans.__('Download Run Directory'),
    icon: downloadIcon,
    run: async run => {
      const { blob, filename } = await api.download(run.id, '');
      saveBlob(blob, filename);
    },
    failure: trans.__('Download failed')
  });

  add(CommandIds.openNotebook, {
    label: trans.__('Open Executed Notebook'),
    icon: notebookIcon,
    isEnabled: when(run => isTerminal(run.state)),
    run: async run => {
      const path = await api.fetchNotebook(run.id);
      await app.commands.execute('docmanager:open', { path });
    },
    failure: trans.__('Cannot open the executed notebook')
  });

  add(CommandIds.openMlflow, {
    label: trans.__('Open in MLflow'),
    icon: launchIcon,
    isEnabled: when(run => Boolean(run.mlflow_url)),
    run: async run => {
      if (run.mlflow_url) {
        window.open(run.mlflow_url, '_blank', 'noopener');
      }
    },
    failure: trans.__('Cannot open MLflow')
  });
}
