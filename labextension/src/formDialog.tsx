/**
 * Dialogs whose accept button sends the form to the server and that stay open, with the
 * server's message next to the field it names, until the server says yes.
 */
import { Dialog, ReactWidget } from '@jupyterlab/apputils';
import React from 'react';

import { ApiError } from './api';

/**
 * The field an error key belongs to: the field whose key is the longest prefix of it
 * (`Environment.Variables.X` -> `Environment.Variables`), or null.
 */
export function fieldForKey(key: string | null, fields: readonly string[]): string | null {
  if (!key) {
    return null;
  }
  let best: string | null = null;
  for (const field of fields) {
    if ((key === field || key.startsWith(`${field}.`)) && (!best || field.length > best.length)) {
      best = field;
    }
  }
  return best;
}

/** A labelled form field with its help and its error, keyed by the server's key. */
export function FormField(props: {
  fieldKey: string;
  label: string;
  help?: string;
  error?: string;
  children: React.ReactNode;
}): JSX.Element {
  const { fieldKey, label, help, error, children } = props;
  return (
    <div className={`jp-MantikField${error ? ' jp-mod-invalid' : ''}`} data-key={fieldKey}>
      <label>
        <span className="jp-MantikField-label">{label}</span>
        {children}
      </label>
      {help && <div className="jp-MantikField-help">{help}</div>}
      {error && (
        <div className="jp-MantikField-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** A form body: its value, the keys of its fields, and where errors are shown. */
export abstract class ServerForm<T> extends ReactWidget {
  abstract getValue(): T;

  /** The keys (as the server names them in errors) of the fields shown. */
  protected abstract get fieldKeys(): string[];

  get busy(): boolean {
    return this._busy;
  }

  set busy(busy: boolean) {
    this._busy = busy;
    this.update();
  }

  /** The error shown next to a field, if any. */
  protected fieldError(key: string): string | undefined {
    return this._fieldErrors[key];
  }

  /** The error shown above the form (when the server named no field shown). */
  protected get generalError(): string | null {
    return this._generalError;
  }

  /** Show an error next to its field when the server named one, else above the form. */
  showError(error: unknown): void {
    const message = (error as Error).message ?? String(error);
    const field = error instanceof ApiError ? fieldForKey(error.key, this.fieldKeys) : null;
    this._fieldErrors = field ? { [field]: message } : {};
    this._generalError = field ? null : message;
    this.update();
    if (field) {
      requestAnimationFrame(() =>
        this.node
          .querySelector<HTMLElement>(`[data-key="${field}"] :is(input, select, textarea)`)
          ?.focus()
      );
    }
  }

  private _busy = false;
  private _fieldErrors: Record<string, string> = {};
  private _generalError: string | null = null;
}

export class ServerFormDialog<T, R> extends Dialog<T> {
  constructor(options: {
    title: string;
    form: ServerForm<T>;
    acceptLabel: string;
    className: string;
    /** Sends the form; a rejection keeps the dialog open with the error shown. */
    send: (value: T) => Promise<R>;
  }) {
    super({
      title: options.title,
      body: options.form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: options.acceptLabel })],
      focusNodeSelector: 'input, select'
    });
    this._form = options.form;
    this._send = options.send;
    this.addClass(options.className);
  }

  /** What the server answered, once the dialog was accepted. */
  get result(): R | null {
    return this._result;
  }

  resolve(index?: number): void {
    if (index === 0) {
      super.resolve(index);
      return;
    }
    if (this._form.busy) {
      return;
    }
    this._form.busy = true;
    this._send(this._form.getValue())
      .then(result => {
        this._result = result;
        super.resolve(1);
      })
      .catch(error => {
        this._form.busy = false;
        this._form.showError(error);
      });
  }

  private _form: ServerForm<T>;
  private _send: (value: T) => Promise<R>;
  private _result: R | null = null;
}
