/**
 * The submit dialog's sweep section: on, every parameter takes one value or a
 * comma-separated list; Repeat, MaxConcurrent and the Objective; and, before anything is
 * submitted, the number of points and the job arrays they form (the server's preview,
 * every point checked), or why the server refuses the sweep.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { IParameter, ISubmission, ISweepPlan } from './api';
import { Goal, ISweepValues, pointCount, sweepDimensions } from './sweepForm';

const PREVIEW_DELAY_MS = 300;

export interface ISweepSectionProps {
  values: ISweepValues;
  parameters: readonly IParameter[];
  /** the parameter fields' texts */
  texts: Record<string, string>;
  /** the request the dialog would send (null while the sweep is off) */
  request: ISubmission | null;
  planSweep: (request: ISubmission) => Promise<ISweepPlan>;
  field: (key: string, label: string, help: string, input: JSX.Element) => JSX.Element;
  onChange: (change: Partial<ISweepValues>) => void;
  trans: TranslationBundle;
}

interface IState {
  /** the request the preview is of */
  of: string;
  plan: ISweepPlan | null;
  error: string | null;
}

export class SweepSection extends React.Component<ISweepSectionProps, IState> {
  state: IState = { of: '', plan: null, error: null };

  componentDidMount(): void {
    this._schedule();
  }

  componentDidUpdate(): void {
    this._schedule();
  }

  componentWillUnmount(): void {
    window.clearTimeout(this._timer);
    this._wanted = '';
  }

  render(): React.ReactNode {
    const { values, field, onChange, trans } = this.props;
    return (
      <>
        <h3 className="jp-MantikSubmit-section">{trans.__('Sweep')}</h3>
        {field(
          'Sweep',
          trans.__('Sweep parameters'),
          trans.__('run every combination of the values listed above'),
          <input
            type="checkbox"
            className="jp-MantikSubmit-sweep"
            checked={values.enabled}
            onChange={event => onChange({ enabled: event.target.checked })}
          />
        )}
        {values.enabled && (
          <>
            <div className="jp-MantikSubmit-grid">
              {this._text('Sweep.Repeat', 'repeat', trans.__('Repeat'),
                trans.__('each point this many times'))}
              {this._text('Sweep.MaxConcurrent', 'maxConcurrent', trans.__('Max concurrent'),
                trans.__('points running at once'), trans.__('no limit'))}
              {this._text('Sweep.Objective', 'metric', trans.__('Objective metric'),
                trans.__('ranks the points'), 'val_loss')}
              {field(
                'Sweep.Objective.Goal',
                trans.__('Goal'),
                '',
                <select
                  className="jp-mod-styled"
                  value={values.goal}
                  onChange={event => onChange({ goal: event.target.value as Goal })}
                >
                  <option value="minimize">{trans.__('minimize')}</option>
                  <option value="maximize">{trans.__('maximize')}</option>
                </select>
              )}
            </div>
            {this._count()}
          </>
        )}
      </>
    );
  }

  /** A text field of the section bound to one of its values. */
  private _text(
    key: string,
    value: 'repeat' | 'maxConcurrent' | 'metric',
    label: string,
    help: string,
    placeholder?: string
  ): JSX.Element {
    const { values, field, onChange } = this.props;
    return field(
      key,
      label,
      help,
      <input
        className="jp-mod-styled"
        value={values[value]}
        placeholder={placeholder}
        onChange={event => onChange({ [value]: event.target.value })}
      />
    );
  }

  /** The server's count when it is of the request shown, else the form's own. */
  private _count(): JSX.Element {
    const { parameters, texts, values, request, trans } = this.props;
    const current = this.state.of === JSON.stringify(request);
    const { plan, error } = current ? this.state : { plan: null, error: null };
    const dimensions = sweepDimensions(parameters, texts);
    if (Object.keys(dimensions).length === 0) {
      return (
        <div className="jp-MantikSubmit-sweepCount jp-mod-invalid">
          {trans.__('List two values or more, separated by commas, for a parameter to sweep.')}
        </div>
      );
    }
    const points = plan?.points.length ?? pointCount(dimensions, values);
    return (
      <div
        className={`jp-MantikSubmit-sweepCount${error ? ' jp-mod-invalid' : ''}`}
        data-points={plan ? plan.points.length : ''}
        data-arrays={plan ? plan.arrays.length : ''}
        aria-live="polite"
      >
        {error
          ? error
          : plan
            ? trans.__(
                '%1 in %2',
                trans._n('%1 point', '%1 points', points),
                trans._n('%1 job array', '%1 job arrays', plan.arrays.length)
              )
            : trans._n('%1 point', '%1 points', points)}
      </div>
    );
  }

  /** Ask the server for the plan of the request shown, once it stops changing. */
  private _schedule(): void {
    const { request, planSweep, parameters, texts } = this.props;
    const key = JSON.stringify(request);
    const swept = Object.keys(sweepDimensions(parameters, texts)).length > 0;
    if (!request || !swept || key === this._wanted) {
      return;
    }
    this._wanted = key;
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => {
      planSweep(request)
        .then(plan => this._answer(key, plan, null))
        .catch(error => this._answer(key, null, String((error as Error).message ?? error)));
    }, PREVIEW_DELAY_MS);
  }

  private _answer(key: string, plan: ISweepPlan | null, error: string | null): void {
    if (key === this._wanted) {
      this.setState({ of: key, plan, error });
    }
  }

  private _timer = 0;
  private _wanted = '';
}
