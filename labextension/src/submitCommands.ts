/**
 * "Submit Notebook to HPC…" (notebook toolbar, palette, file browser) and "Re-run with
 * changes": the submit dialog filled from the server, sent, and the new run opened.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';

import { IRun, ISubmission, MantikApi, submitRequest } from './api';
import { CommandIds } from './commandIds';
import { DetailsTab } from './details';
import { ServerFormDialog } from './formDialog';
import { mantikIcon } from './icons';
import { RunsModel } from './runsModel';
import { SubmitForm } from './submitDialog';
import { initialValues, valuesOfRun } from './submitForm';

export interface ISubmitCommandsContext {
  app: JupyterFrontEnd;
  api: MantikApi;
  model: RunsModel;
  trans: TranslationBundle;
  notebooks: INotebookTracker | null;
  fileBrowser: IDefaultFileBrowser | null;
  /** The site the user's settings preselect ('' for none), read when a dialog opens. */
  defaultSite: () => string;
  openDetails: (run: IRun, tab: DetailsTab) => void;
}

/** Adds the submit commands; returns what re-runs a run with changes through the dialog. */
export function addSubmitCommands(context: ISubmitCommandsContext): (run: IRun) => Promise<void> {
  const { app, api, model, trans, notebooks, fileBrowser } = context;

  /** Save the notebook first if it is open with unsaved changes. */
  async function saveIfOpen(path: string): Promise<void> {
    const open = notebooks?.find(panel => panel.context.path === path);
    if (open && open.context.model.dirty) {
      await open.context.save();
    }
  }

  async function showSubmitDialog(path: string, rerunOf: IRun | null): Promise<void> {
    const [sites, parameters, config] = await Promise.all([
      api.sites(),
      api.parameters(path),
      api.config()
    ]);
    // the setting or the server's default, where that site exists (a setting can outlive
    // its site, and the dialog must show the site it sends)
    const site =
      [context.defaultSite(), config.defaults.site].find(name =>
        sites.some(s => s.name === name)
      ) ??
      sites[0]?.name ??
      '';
    const fresh = initialValues(site, parameters);
    const form = new SubmitForm({
      notebook: path,
      sites,
      parameters,
      values: rerunOf ? valuesOfRun(rerunOf, parameters) : fresh,
      defaults: { ...fresh.parameters },
      edited: rerunOf?.spec,
      planSweep: rerunOf
        ? undefined
        : submission => api.planSweep(submitRequest(path, submission)),
      trans
    });
    const dialog = new ServerFormDialog({
      title: rerunOf
        ? trans.__('Re-run %1 with changes', rerunOf.name)
        : trans.__('Submit notebook to HPC'),
      form,
      acceptLabel: trans.__('Submit'),
      className: 'jp-MantikSubmitDialog',
      send: async (submission: ISubmission) => {
        await saveIfOpen(path);
        if (rerunOf) {
          return api.rerun(rerunOf.id, submission);
        }
        if (submission.schedule?.Cron !== undefined) {
          // a schedule: its first run, waiting on the site, is what the dialog opens
          const schedule = await api.addSchedule(submitRequest(path, submission));
          return api.run(schedule.last_run?.id ?? '');
        }
        return api.submit(submitRequest(path, submission));
      }
    });
    await dialog.launch();
    if (dialog.result) {
      model.update(dialog.result);
      context.openDetails(dialog.result, 'log');
    }
  }

  function submitPath(path: string | undefined, rerunOf: IRun | null = null): void {
    if (!path) {
      return;
    }
    showSubmitDialog(path, rerunOf).catch(error =>
      showErrorMessage(trans.__('Cannot submit %1', path), error as Error)
    );
  }

  app.commands.addCommand(CommandIds.submit, {
    label: trans.__('Submit Notebook to HPC…'),
    caption: trans.__('Run this notebook as a tracked job on an HPC site'),
    icon: mantikIcon,
    isEnabled: args => typeof args.path === 'string' || Boolean(notebooks?.currentWidget),
    execute: args =>
      submitPath(
        typeof args.path === 'string' ? args.path : notebooks?.currentWidget?.context.path
      )
  });

  app.commands.addCommand(CommandIds.submitSelected, {
    label: trans.__('Submit Notebook to HPC…'),
    icon: mantikIcon,
    execute: () => {
      const item = fileBrowser?.selectedItems().next();
      if (item && !item.done && item.value.type === 'notebook') {
        submitPath(item.value.path);
      }
    }
  });

  return async run => {
    if (!run.notebook_path) {
      throw new Error(
        trans.__('%1 is outside the Jupyter contents root; re-run it from the command line.', run.notebook)
      );
    }
    submitPath(run.notebook_path, run);
  };
}
