/**
 * mantik-jupyter's JupyterLab extension: the "HPC runs" side panel, run details with a
 * live log, "Submit notebook to HPC…" (notebook toolbar, palette, file browser),
 * notifications, and the `mantik:save` comm target the magics use.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { DisposableDelegate } from '@lumino/disposable';

import { IRun, ISubmission, MantikApi, submitRequest } from './api';
import { CommandIds } from './commandIds';
import { DetailsTab, RunDetails, createDetailsWidget } from './details';
import { mantikIcon } from './icons';
import { RunNotifier } from './notify';
import { addRunCommands } from './runCommands';
import { RunsModel } from './runsModel';
import { RunsPanel } from './runsPanel';
import { watchSaveRequests } from './saveComm';
import { ServerFormDialog } from './formDialog';
import { SubmitForm } from './submitDialog';
import { initialValues, valuesOfRun } from './submitForm';

const PLUGIN_ID = 'mantik-jupyter:plugin';

interface ISettings {
  defaultSite: string;
  notifications: boolean;
  logFontSize: number;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Submit notebooks to HPC sites, watch runs live and read their logs.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ICommandPalette, ISettingRegistry, ITranslator, INotebookTracker, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const trans = (translator ?? nullTranslator).load('mantik_jupyter');
    const api = new MantikApi(app.serviceManager.serverSettings);
    const model = new RunsModel(api, app.serviceManager.events ?? null);
    const notifier = new RunNotifier(app.commands, trans);
    const settings: ISettings = { defaultSite: '', notifications: true, logFontSize: 12 };
    const details = new Map<string, MainAreaWidget<RunDetails>>();

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(loaded => {
        const apply = () => {
          Object.assign(settings, loaded.composite as unknown as ISettings);
          notifier.enabled = settings.notifications;
          details.forEach(widget => widget.content.update());
        };
        loaded.changed.connect(apply);
        apply();
      });
    }

    model.stateChanged.connect((_, change) => notifier.notify(change.run));
    model.changed.connect(() => app.commands.notifyCommandChanged());

    function openDetails(run: IRun, tab: DetailsTab): void {
      let widget = details.get(run.id);
      if (!widget || widget.isDisposed) {
        widget = createDetailsWidget(run, tab, {
          api,
          model,
          commands: app.commands,
          trans,
          logFontSize: () => settings.logFontSize
        });
        details.set(run.id, widget);
        widget.disposed.connect(() => details.delete(run.id));
        shell.add(widget, 'main');
      } else {
        widget.content.tab = tab;
      }
      shell.activateById(widget.id);
    }

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
        [settings.defaultSite, config.defaults.site].find(name =>
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
          return rerunOf
            ? api.rerun(rerunOf.id, submission)
            : api.submit(submitRequest(path, submission));
        }
      });
      await dialog.launch();
      if (dialog.result) {
        model.update(dialog.result);
        openDetails(dialog.result, 'log');
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

    addRunCommands({
      app,
      api,
      model,
      trans,
      openDetails,
      rerun: async run => {
        if (!run.notebook_path) {
          throw new Error(
            trans.__('%1 is outside the Jupyter contents root; re-run it from the command line.', run.notebook)
          );
        }
        submitPath(run.notebook_path, run);
      }
    });

    const panel = new RunsPanel({ api, model, commands: app.commands, trans });
    shell.add(panel, 'left', { rank: 600 });
    app.commands.addCommand(CommandIds.openPanel, {
      label: trans.__('Show HPC Runs'),
      execute: () => shell.activateById(panel.id)
    });
    void model.reload();

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (notebook: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: mantikIcon,
          label: trans.__('HPC'),
          tooltip: trans.__('Submit this notebook to an HPC site'),
          className: 'jp-MantikSubmitButton',
          onClick: () =>
            void app.commands.execute(CommandIds.submit, { path: notebook.context.path })
        });
        notebook.toolbar.insertAfter('cellType', 'mantik-submit', button);
        watchSaveRequests(notebook);
        return new DisposableDelegate(() => button.dispose());
      }
    });

    for (const command of [CommandIds.submit, CommandIds.openPanel]) {
      palette?.addItem({ command, category: trans.__('HPC runs') });
    }
  }
};

export default plugin;
