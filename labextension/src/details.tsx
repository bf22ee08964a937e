/**
 * A run in the main area: overview, live log and files, with the run's actions in the
 * toolbar. Kept current from the runs model.
 */
import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React from 'react';

import { IRun, MantikApi, isSweep } from './api';
import { RUN_COMMANDS_IN_DETAILS, SWEEP_COMMANDS_IN_DETAILS } from './commandIds';
import { mantikIcon } from './icons';
import { LogBuffer } from './logBuffer';
import { LogView } from './logView';
import { RunFiles } from './runFiles';
import { RunOverview } from './runOverview';
import { RunsModel } from './runsModel';
import { SweepResults } from './sweepResults';

/** A run's tabs; a sweep has results and overview (its points have the logs and files). */
export type DetailsTab = 'overview' | 'log' | 'files' | 'results';

export interface IDetailsOptions {
  api: MantikApi;
  model: RunsModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  logFontSize: () => number;
  /** draws a sweep's charts (JupyterLab's Vega-Lite renderer) */
  rendermime?: IRenderMimeRegistry | null;
}

export class RunDetails extends ReactWidget {
  constructor(
    run: IRun,
    tab: DetailsTab,
    private readonly _options: IDetailsOptions
  ) {
    super();
    this._run = run;
    this._tab = tab;
    this.addClass('jp-MantikDetails');
    _options.model.changed.connect(this._onModelChanged, this);
  }

  get run(): IRun {
    return this._run;
  }

  set tab(tab: DetailsTab) {
    this._tab = tab;
    this.update();
  }

  dispose(): void {
    this._options.model.changed.disconnect(this._onModelChanged, this);
    this._log?.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const { trans, api } = this._options;
    const tabs: [DetailsTab, string][] = isSweep(this._run)
      ? [
          ['results', trans.__('Results')],
          ['overview', trans.__('Overview')]
        ]
      : [
          ['overview', trans.__('Overview')],
          ['log', trans.__('Log')],
          ['files', trans.__('Files')]
        ];
    if (!tabs.some(([id]) => id === this._tab)) {
      this._tab = tabs[0][0];
    }
    if (this._tab === 'log' && !this._log) {
      this._log = new LogBuffer(api, this._run.id);
    }
    return (
      <div className="jp-MantikDetails-body">
        <div className="jp-MantikTabs" role="tablist">
          {tabs.map(([id, label]) => (
            <button
              key={id}
              role="tab"
              aria-selected={this._tab === id}
              className={`jp-MantikTab${this._tab === id ? ' jp-mod-active' : ''}`}
              data-tab={id}
              onClick={() => (this.tab = id)}
            >
              {label}
            </button>
          ))}
        </div>
        <div className="jp-MantikDetails-content">
          {this._tab === 'results' && (
            <SweepResults
              api={api}
              sweep={this._run}
              trans={trans}
              commands={this._options.commands}
              rendermime={this._options.rendermime ?? null}
            />
          )}
          {this._tab === 'overview' && <RunOverview run={this._run} trans={trans} />}
          {this._tab === 'log' && this._log && (
            <LogView buffer={this._log} fontSize={this._options.logFontSize()} trans={trans} />
          )}
          {this._tab === 'files' && (
            <RunFiles api={api} runId={this._run.id} trans={trans} key={this._run.state} />
          )}
        </div>
      </div>
    );
  }

  private _onModelChanged(model: RunsModel): void {
    const run = model.get(this._run.id);
    if (run && run !== this._run) {
      this._run = run;
      if (this.parent) {
        this.parent.title.label = run.name;
      }
      this.update();
    }
  }

  private _run: IRun;
  private _tab: DetailsTab;
  private _log: LogBuffer | null = null;
}

/** The details of a run in a main-area widget with the run's commands in its toolbar. */
export function createDetailsWidget(
  run: IRun,
  tab: DetailsTab,
  options: IDetailsOptions
): MainAreaWidget<RunDetails> {
  const content = new RunDetails(run, tab, options);
  const widget = new MainAreaWidget({ content });
  widget.id = `mantik-run-${run.id}`;
  widget.title.label = run.name;
  widget.title.icon = mantikIcon;
  widget.title.closable = true;
  for (const command of isSweep(run) ? SWEEP_COMMANDS_IN_DETAILS : RUN_COMMANDS_IN_DETAILS) {
    widget.toolbar.addItem(
      command,
      new CommandToolbarButton({
        commands: options.commands,
        id: command,
        args: { id: run.id }
      })
    );
  }
  return widget;
}
