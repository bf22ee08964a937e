/**
 * Add or edit a user site profile with a form generated from the server's profile
 * schema. The secret is a separate, write-only field: it is sent to
 * `PUT sites/{name}/credentials` and never shown back (the server never returns it).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { ApiError, IJsonSchema, ISite, MantikApi } from './api';
import { FormField, ServerForm } from './formDialog';

type FieldKind = 'enum' | 'boolean' | 'list' | 'json' | 'text';
type FieldValue = string | boolean;

export interface ISiteFormValue {
  profile: Record<string, unknown>;
  secret: string;
  /** A value that could not be read (invalid JSON), with the key of its field. */
  invalid: { key: string; message: string } | null;
}

interface IField {
  key: string;
  schema: IJsonSchema;
  kind: FieldKind;
}

function kindOf(schema: IJsonSchema): FieldKind {
  if (schema.enum) {
    return 'enum';
  }
  if (schema.type === 'boolean') {
    return 'boolean';
  }
  if (schema.type === 'array') {
    return 'list';
  }
  return schema.type === 'object' ? 'json' : 'text';
}

/** The schema's properties as form fields; objects with properties become sub-fields. */
export function fieldsOf(schema: IJsonSchema, prefix = ''): IField[] {
  const fields: IField[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const key = prefix + name;
    if (property.type === 'object' && property.properties) {
      fields.push(...fieldsOf(property, `${key}.`));
    } else {
      fields.push({ key, schema: property, kind: kindOf(property) });
    }
  }
  return fields;
}

/** A profile as flat dotted keys with the texts the fields show. */
export function flatten(profile: Record<string, unknown>, fields: IField[]): Record<string, FieldValue> {
  const values: Record<string, FieldValue> = {};
  for (const field of fields) {
    const value = field.key
      .split('.')
      .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], profile);
    if (value === undefined || value === null) {
      continue;
    }
    values[field.key] =
      field.kind === 'boolean'
        ? Boolean(value)
        : field.kind === 'list'
          ? (value as unknown[]).join(', ')
          : field.kind === 'json'
            ? JSON.stringify(value, null, 1)
            : String(value);
  }
  return values;
}

/** The profile document of the form's values (empty fields left out). */
export function unflatten(values: Record<string, FieldValue>, fields: IField[]): ISiteFormValue {
  const profile: Record<string, unknown> = {};
  let invalid: ISiteFormValue['invalid'] = null;
  for (const field of fields) {
    const raw = values[field.key];
    if (raw === undefined || raw === '') {
      continue;
    }
    let value: unknown = raw;
    if (field.kind === 'list') {
      value = String(raw)
        .split(',')
        .map(item => item.trim())
        .filter(Boolean);
    } else if (field.kind === 'json') {
      try {
        value = JSON.parse(String(raw));
      } catch (error) {
        invalid = invalid ?? { key: field.key, message: (error as Error).message };
        continue;
      }
    }
    const parts = field.key.split('.');
    let node = profile;
    for (const part of parts.slice(0, -1)) {
      node = (node[part] ??= {}) as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return { profile, secret: '', invalid };
}

export interface ISiteFormOptions {
  schema: IJsonSchema;
  /** The site being edited; null to add one. */
  site: ISite | null;
  trans: TranslationBundle;
}

export class SiteForm extends ServerForm<ISiteFormValue> {
  constructor(private readonly _options: ISiteFormOptions) {
    super();
    this.addClass('jp-MantikSiteForm');
    this._fields = fieldsOf(_options.schema);
    const site = _options.site;
    this._values = site
      ? flatten({ name: site.name, kind: site.kind, title: site.title, ...site.settings }, this._fields)
      : {};
  }

  getValue(): ISiteFormValue {
    return { ...unflatten(this._values, this._fields), secret: this._secret };
  }

  protected get fieldKeys(): string[] {
    return [...this._fields.map(field => field.key), 'secret'];
  }

  protected render(): JSX.Element {
    const { site, trans, schema } = this._options;
    const required = new Set(schema.required ?? []);
    return (
      <form className="jp-MantikSiteForm-form" onSubmit={event => event.preventDefault()}>
        {this.generalError && (
          <div className="jp-MantikError" role="alert">
            {this.generalError}
          </div>
        )}
        <fieldset disabled={this.busy}>
          {this._fields.map(field =>
            this._field(field, Boolean(site) && (field.key === 'name' || field.key === 'kind'), required.has(field.key))
          )}
          <FormField
            fieldKey="secret"
            label={trans.__('Secret (password, token or client secret)')}
            help={
              site?.credentials_set
                ? trans.__('A secret is stored; it is never shown. Type a new one to replace it.')
                : trans.__('Stored where the profile\'s credentials setting says; never shown again.')
            }
            error={this.fieldError('secret')}
          >
            <input
              className="jp-mod-styled"
              type="password"
              autoComplete="new-password"
              value={this._secret}
              placeholder={site?.credentials_set ? '••••••••' : ''}
              onChange={event => {
                this._secret = event.target.value;
                this.update();
              }}
            />
          </FormField>
        </fieldset>
      </form>
    );
  }

  private _field(field: IField, readOnly: boolean, required: boolean): JSX.Element {
    const { trans } = this._options;
    const value = this._values[field.key];
    const set = (next: FieldValue) => {
      this._values = { ...this._values, [field.key]: next };
      this.update();
    };
    let input: JSX.Element;
    if (field.kind === 'enum') {
      input = (
        <select
          className="jp-mod-styled"
          disabled={readOnly}
          value={String(value ?? '')}
          onChange={event => set(event.target.value)}
        >
          <option value="">{required ? trans.__('(choose)') : trans.__('(default)')}</option>
          {(field.schema.enum ?? []).map(option => (
            <option key={String(option)} value={String(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
    } else if (field.kind === 'boolean') {
      input = (
        <input type="checkbox" checked={value !== false} onChange={event => set(event.target.checked)} />
      );
    } else if (field.kind === 'json') {
      input = (
        <textarea
          className="jp-mod-styled"
          rows={2}
          value={String(value ?? '')}
          placeholder="{}"
          onChange={event => set(event.target.value)}
        />
      );
    } else {
      input = (
        <input
          className="jp-mod-styled"
          readOnly={readOnly}
          value={String(value ?? '')}
          onChange={event => set(event.target.value)}
        />
      );
    }
    const help = [field.schema.description, field.kind === 'list' ? trans.__('comma-separated') : '']
      .filter(Boolean)
      .join(' – ');
    return (
      <FormField
        key={field.key}
        fieldKey={field.key}
        label={required ? `${field.key} *` : field.key}
        help={help}
        error={this.fieldError(field.key)}
      >
        {input}
      </FormField>
    );
  }

  private _fields: IField[];
  private _values: Record<string, FieldValue>;
  private _secret = '';
}

/** Save the form: the profile (add or replace), then the secret if one was typed. */
export async function saveSite(
  api: MantikApi,
  site: ISite | null,
  value: ISiteFormValue
): Promise<ISite> {
  if (value.invalid) {
    throw new ApiError(400, 'bad_request', value.invalid.message, value.invalid.key);
  }
  const saved = site
    ? await api.updateSite(site.name, value.profile)
    : await api.addSite(value.profile);
  if (value.secret) {
    await api.setCredentials(saved.name, value.secret);
  }
  return saved;
}
