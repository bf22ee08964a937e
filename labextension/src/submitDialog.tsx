/**
 * "Submit notebook to HPC…": a dialog with site, resources, the notebook's typed
 * parameters, environment and run name. The server validates; its message is shown next
 * to the field it names and the dialog stays open. Also "Re-run with changes".
 */
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { IParameter, IRunConfig, ISite, ISubmission, ISweepPlan } from './api';
import { FormField, ServerForm } from './formDialog';
import {
  EnvironmentKind,
  ISubmitValues,
  RESOURCE_KEYS,
  ResourceKey,
  When,
  buildSubmission,
  defaultText
} from './submitForm';
import { ISweepValues, initialSweep, sweepSubmission } from './sweepForm';
import { SweepSection } from './sweepSection';

export interface ISubmitFormOptions {
  notebook: string;
  sites: ISite[];
  parameters: IParameter[];
  values: ISubmitValues;
  /** The notebook's parameter defaults as texts: those need not be sent. */
  defaults: Record<string, string>;
  /** Re-run: the run's configuration, which the form's values replace. */
  edited?: IRunConfig;
  /** The points and arrays a sweep would form (the server's preview); new runs only. */
  planSweep?: (submission: ISubmission) => Promise<ISweepPlan>;
  trans: TranslationBundle;
}

/** Where a site lists its partitions, if it does. */
function queuesOf(site: ISite | undefined): string[] {
  const settings = site?.settings ?? {};
  for (const key of ['partitions', 'queues']) {
    const value = settings[key];
    if (Array.isArray(value)) {
      return value.map(String);
    }
  }
  return [];
}

/** The dialog body: the form, its values and the server's errors. */
export class SubmitForm extends ServerForm<ISubmission> {
  constructor(private readonly _options: ISubmitFormOptions) {
    super();
    this._values = _options.values;
    this.addClass('jp-MantikSubmit');
  }

  getValue(): ISubmission {
    const { defaults, edited, parameters } = this._options;
    const submission = buildSubmission(this._values, defaults, edited);
    return this._sweep.enabled && !edited
      ? sweepSubmission(submission, parameters, this._values.parameters, this._sweep)
      : submission;
  }

  protected get fieldKeys(): string[] {
    return [
      'site',
      'name',
      ...RESOURCE_KEYS.map(key => `Resources.${key}`),
      ...this._options.parameters.map(p => `Parameters.${p.name}`),
      'Environment',
      'Environment.Python',
      'Environment.Apptainer',
      'Environment.Modules',
      'Environment.Variables',
      'Schedule',
      'Schedule.At',
      'Schedule.Cron',
      'Schedule.Timezone',
      'Sweep',
      'Sweep.Repeat',
      'Sweep.MaxConcurrent',
      'Sweep.Objective',
      'Sweep.Objective.Goal'
    ];
  }

  protected render(): JSX.Element {
    const { notebook, sites, parameters, trans } = this._options;
    const values = this._values;
    const site = sites.find(s => s.name === values.site);
    const queues = queuesOf(site);
    const resourceLabels: Record<ResourceKey, [string, string]> = {
      Queue: [trans.__('Queue'), trans.__('partition, e.g. devel')],
      Runtime: [trans.__('Runtime'), trans.__('e.g. 30m, 1h30m, 2:00:00')],
      Nodes: [trans.__('Nodes'), '1'],
      CPUsPerNode: [trans.__('CPUs per node'), ''],
      GPUsPerNode: [trans.__('GPUs per node'), ''],
      MemoryPerNode: [trans.__('Memory per node'), trans.__('e.g. 4G, 4000M')],
      Reservation: [trans.__('Reservation'), ''],
      QoS: [trans.__('QoS'), '']
    };
    return (
      <form className="jp-MantikSubmit-form" onSubmit={event => event.preventDefault()}>
        <div className="jp-MantikSubmit-notebook">{notebook}</div>
        {this.generalError && (
          <div className="jp-MantikError jp-MantikSubmit-general" role="alert">
            {this.generalError}
          </div>
        )}
        <fieldset disabled={this.busy}>
          {this._field('site', trans.__('Site'), '', (
            <select
              className="jp-mod-styled"
              value={values.site}
              onChange={event => this._set({ site: event.target.value })}
            >
              {sites.map(s => (
                <option key={s.name} value={s.name}>
                  {s.title ? `${s.name} – ${s.title}` : s.name}
                </option>
              ))}
            </select>
          ))}
          {this._field('name', trans.__('Run name'), '', (
            <input
              className="jp-mod-styled"
              value={values.name}
              placeholder={trans.__('generated from the notebook name')}
              onChange={event => this._set({ name: event.target.value })}
            />
          ))}
          {!this._options.edited && this._when()}
          <h3 className="jp-MantikSubmit-section">{trans.__('Parameters')}</h3>
          {parameters.length === 0 && (
            <div className="jp-MantikEmpty">
              {trans.__('This notebook has no cell tagged "parameters".')}
            </div>
          )}
          {parameters.map(p => this._parameter(p))}
          {!this._options.edited && this._options.planSweep && (
            <SweepSection
              values={this._sweep}
              parameters={parameters}
              texts={values.parameters}
              request={this._sweep.enabled ? this.getValue() : null}
              planSweep={this._options.planSweep}
              field={(key, label, help, input) => this._field(key, label, help, input)}
              onChange={change => {
                this._sweep = { ...this._sweep, ...change };
                this.update();
              }}
              trans={trans}
            />
          )}
          <h3 className="jp-MantikSubmit-section">{trans.__('Resources')}</h3>
          <div className="jp-MantikSubmit-grid">
            {RESOURCE_KEYS.map(key =>
              this._field(`Resources.${key}`, resourceLabels[key][0], '', (
                <input
                  className="jp-mod-styled"
                  value={values.resources[key]}
                  placeholder={resourceLabels[key][1]}
                  list={key === 'Queue' && queues.length ? 'jp-MantikSubmit-queues' : undefined}
                  onChange={event =>
                    this._set({ resources: { ...values.resources, [key]: event.target.value } })
                  }
                />
              ))
            )}
            <datalist id="jp-MantikSubmit-queues">
              {queues.map(q => (
                <option key={q} value={q} />
              ))}
            </datalist>
          </div>
          <h3 className="jp-MantikSubmit-section">{trans.__('Environment')}</h3>
          {this._field('Environment', trans.__('Python environment'), '', (
            <select
              className="jp-mod-styled"
              value={values.environment}
              onChange={event => this._set({ environment: event.target.value as EnvironmentKind })}
            >
              <option value="none">{trans.__('the site default')}</option>
              <option value="venv">{trans.__('a Python venv')}</option>
              <option value="apptainer">{trans.__('an Apptainer image')}</option>
            </select>
          ))}
          {values.environment === 'venv' &&
            this._field('Environment.Python', trans.__('venv path on the site'), '', (
              <input
                className="jp-mod-styled"
                value={values.venv}
                onChange={event => this._set({ venv: event.target.value })}
              />
            ))}
          {values.environment === 'apptainer' &&
            this._field('Environment.Apptainer', trans.__('Image (.sif)'), '', (
              <input
                className="jp-mod-styled"
                value={values.image}
                onChange={event => this._set({ image: event.target.value })}
              />
            ))}
          {this._field('Environment.Modules', trans.__('Modules'), trans.__('comma-separated'), (
            <input
              className="jp-mod-styled"
              value={values.modules}
              placeholder="Stages/2024, GCC"
              onChange={event => this._set({ modules: event.target.value })}
            />
          ))}
          {this._field(
            'Environment.Variables',
            trans.__('Variables'),
            trans.__('one NAME=value per line'),
            <textarea
              className="jp-mod-styled"
              rows={2}
              value={values.variables}
              onChange={event => this._set({ variables: event.target.value })}
            />
          )}
        </fieldset>
      </form>
    );
  }

  /** When the run starts: now, once later (the site holds it), or on a cron. */
  private _when(): JSX.Element {
    const { trans } = this._options;
    const values = this._values;
    return (
      <>
        {this._field('Schedule', trans.__('When'), '', (
          <select
            className="jp-mod-styled jp-MantikSubmit-when"
            value={values.when}
            onChange={event => this._set({ when: event.target.value as When })}
          >
            <option value="now">{trans.__('now')}</option>
            <option value="at">{trans.__('at a time')}</option>
            <option value="repeat">{trans.__('repeat (a schedule)')}</option>
          </select>
        ))}
        {values.when === 'at' &&
          this._field('Schedule.At', trans.__('Start at'), trans.__('the site holds the job'), (
            <input
              className="jp-mod-styled"
              type="datetime-local"
              value={values.at}
              onChange={event => this._set({ at: event.target.value })}
            />
          ))}
        {values.when === 'repeat' &&
          this._field('Schedule.Cron', trans.__('Cron'), trans.__('minute hour day month weekday'), (
            <input
              className="jp-mod-styled"
              value={values.cron}
              placeholder="0 3 * * 1"
              onChange={event => this._set({ cron: event.target.value })}
            />
          ))}
        {values.when === 'repeat' &&
          this._field('Schedule.Timezone', trans.__('Time zone'), '', (
            <input
              className="jp-mod-styled"
              value={values.timezone}
              onChange={event => this._set({ timezone: event.target.value })}
            />
          ))}
      </>
    );
  }

  private _parameter(p: IParameter): JSX.Element {
    const { trans } = this._options;
    const value = this._values.parameters[p.name] ?? '';
    const set = (text: string) =>
      this._set({ parameters: { ...this._values.parameters, [p.name]: text } });
    const sweeping = this._sweep.enabled && !['list', 'dict', 'bool'].includes(p.type ?? '');
    const help = [
      p.type ?? trans.__('any type'),
      p.help,
      sweeping ? trans.__('one value, or several separated by commas') : ''
    ]
      .filter(Boolean)
      .join(' – ');
    const input =
      p.type === 'bool' && this._sweep.enabled ? (
        // a checkbox cannot hold both values: a sweep may run the notebook with each
        <select
          className="jp-mod-styled"
          value={boolChoice(value)}
          onChange={event => set(event.target.value)}
        >
          {!BOOL_CHOICES.includes(boolChoice(value)) && (
            <option value={boolChoice(value)}>{value || trans.__('default')}</option>
          )}
          <option value="false">{trans.__('false')}</option>
          <option value="true">{trans.__('true')}</option>
          <option value="false,true">{trans.__('both (sweep false, true)')}</option>
        </select>
      ) : p.type === 'bool' ? (
        <input
          type="checkbox"
          checked={['true', '1', 'yes', 'on'].includes(value.toLowerCase())}
          onChange={event => set(event.target.checked ? 'true' : 'false')}
        />
      ) : (
        <input
          className="jp-mod-styled"
          type={!sweeping && (p.type === 'int' || p.type === 'float') ? 'number' : 'text'}
          step={!sweeping && p.type === 'float' ? 'any' : undefined}
          value={value}
          placeholder={defaultText(p)}
          onChange={event => set(event.target.value)}
        />
      );
    return this._field(`Parameters.${p.name}`, p.name, help, input);
  }

  private _field(key: string, label: string, help: string, input: JSX.Element): JSX.Element {
    return (
      <FormField key={key} fieldKey={key} label={label} help={help} error={this.fieldError(key)}>
        {input}
      </FormField>
    );
  }

  private _set(change: Partial<ISubmitValues>): void {
    this._values = { ...this._values, ...change };
    this.update();
  }

  private _values: ISubmitValues;
  private _sweep: ISweepValues = initialSweep();
}

/** What a bool parameter's select offers while sweeping: one value, or both as a dimension. */
const BOOL_CHOICES = ['false', 'true', 'false,true'];

/** A bool parameter's text as one of the select's values where it means one. */
function boolChoice(text: string): string {
  return text.toLowerCase().replace(/\s/g, '');
}
