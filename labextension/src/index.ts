/**
 * mantik-jupyter's JupyterLab extension: the "HPC runs" side panel, run details with a
 * live log, "Submit notebook to HPC…" (notebook toolbar, palette, file browser),
 * notifications, the `mantik:save` comm target the magics use, and the `IMantikRuns` token
 * through which other extensions reuse the REST client and the runs model.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { DisposableDelegate } from '@lumino/disposable';

import { IRun, MantikApi, isPoint } from './api';
import { CommandIds } from './commandIds';
import { DetailsTab, RunDetails, createDetailsWidget } from './details';
import { mantikIcon } from './icons';
import { RunNotifier } from './notify';
import { addRunCommands } from './runCommands';
import { RunsModel } from './runsModel';
import { RunsPanel } from './runsPanel';
import { watchSaveRequests } from './saveComm';
import { addSubmitCommands } from './submitCommands';
import { addSweepCommands } from './sweepCommands';
import { IMantikRuns } from './tokens';

export { IMantikRuns } from './tokens';

const PLUGIN_ID = 'mantik-jupyter:plugin';

interface ISettings {
  defaultSite: string;
  notifications: boolean;
  logFontSize: number;
}

const plugin: JupyterFrontEndPlugin<IMantikRuns> = {
  id: PLUGIN_ID,
  description: 'Submit notebooks to HPC sites, watch runs live and read their logs.',
  autoStart: true,
  provides: IMantikRuns,
  requires: [ILabShell],
  optional: [
    ICommandPalette,
    ISettingRegistry,
    ITranslator,
    INotebookTracker,
    IDefaultFileBrowser,
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null,
    rendermime: IRenderMimeRegistry | null
  ): IMantikRuns => {
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

    // a sweep tells its end once, not once per point
    model.stateChanged.connect((_, change) => {
      if (!isPoint(change.run)) {
        notifier.notify(change.run);
      }
    });
    model.changed.connect(() => app.commands.notifyCommandChanged());

    function openDetails(run: IRun, tab: DetailsTab): void {
      let widget = details.get(run.id);
      if (!widget || widget.isDisposed) {
        widget = createDetailsWidget(run, tab, {
          api,
          model,
          commands: app.commands,
          trans,
          logFontSize: () => settings.logFontSize,
          rendermime
        });
        details.set(run.id, widget);
        widget.disposed.connect(() => details.delete(run.id));
        shell.add(widget, 'main');
      } else {
        widget.content.tab = tab;
      }
      shell.activateById(widget.id);
    }

    const rerun = addSubmitCommands({
      app,
      api,
      model,
      trans,
      notebooks,
      fileBrowser,
      defaultSite: () => settings.defaultSite,
      openDetails
    });
    addRunCommands({ app, api, model, trans, openDetails, rerun });
    addSweepCommands({ app, api, model, trans, openDetails });

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
        watchSaveRequests(notebook, api);
        return new DisposableDelegate(() => button.dispose());
      }
    });

    for (const command of [CommandIds.submit, CommandIds.openPanel]) {
      palette?.addItem({ command, category: trans.__('HPC runs') });
    }
    return { api, model };
  }
};

export default plugin;
