/**
 * The submit form's values and how they become a request: resources and environment
 * into the run configuration, changed parameters as texts the server converts to the
 * declared types. Field keys are the configuration keys the server names in errors.
 */
import { IParameter, IRun, IRunConfig, ISubmission } from './api';

export const RESOURCE_KEYS = [
  'Queue',
  'Runtime',
  'Nodes',
  'CPUsPerNode',
  'GPUsPerNode',
  'MemoryPerNode',
  'Reservation',
  'QoS'
] as const;
export type ResourceKey = (typeof RESOURCE_KEYS)[number];
const NUMERIC: ResourceKey[] = ['Nodes', 'CPUsPerNode', 'GPUsPerNode'];

export type EnvironmentKind = 'none' | 'venv' | 'apptainer';

export interface ISubmitValues {
  site: string;
  name: string;
  resources: Record<ResourceKey, string>;
  parameters: Record<string, string>;
  environment: EnvironmentKind;
  venv: string;
  image: string;
  modules: string;
  variables: string;
}

/** A parameter value as the text a user would type for it. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  return JSON.stringify(value) ?? '';
}

function textOf(value: unknown): string {
  return value === undefined || value === null ? '' : valueText(value);
}

/** A parameter's default as the user would type it (a text unquoted, as the server reads). */
export function defaultText(p: IParameter): string {
  return p.type === 'str' && typeof p.default === 'string' ? p.default : p.default_text;
}

/** The form for a new run: the notebook's defaults on the chosen site. */
export function initialValues(site: string, parameters: IParameter[]): ISubmitValues {
  return {
    site,
    name: '',
    resources: Object.fromEntries(RESOURCE_KEYS.map(key => [key, ''])) as Record<
      ResourceKey,
      string
    >,
    parameters: Object.fromEntries(parameters.map(p => [p.name, defaultText(p)])),
    environment: 'none',
    venv: '',
    image: '',
    modules: '',
    variables: ''
  };
}

/** The form for re-running a run: its site, resources, environment and parameters. */
export function valuesOfRun(run: IRun, parameters: IParameter[]): ISubmitValues {
  const resources = run.spec.Resources ?? {};
  const environment = (run.spec.Environment ?? {}) as Record<string, unknown>;
  const apptainer = environment.Apptainer as { Path?: string } | undefined;
  const variables = (environment.Variables ?? {}) as Record<string, unknown>;
  const values = initialValues(run.site, parameters);
  for (const key of RESOURCE_KEYS) {
    values.resources[key] = textOf(resources[key]);
  }
  for (const p of parameters) {
    if (p.name in run.parameters) {
      values.parameters[p.name] = valueText(run.parameters[p.name]);
    }
  }
  values.environment = apptainer ? 'apptainer' : environment.Python ? 'venv' : 'none';
  values.venv = textOf(environment.Python);
  values.image = apptainer?.Path ?? '';
  values.modules = ((environment.Modules ?? []) as string[]).join(', ');
  values.variables = Object.entries(variables)
    .map(([key, value]) => `${key}=${textOf(value)}`)
    .join('\n');
  return values;
}

function resourceValue(key: ResourceKey, text: string): string | number {
  return NUMERIC.includes(key) && /^\d+$/.test(text) ? Number(text) : text;
}

/** The request for the form: empty fields are left out, parameters only when changed. */
export function buildSubmission(
  values: ISubmitValues,
  baseline: Record<string, string>
): ISubmission {
  const config: IRunConfig = {};
  const resources: Record<string, unknown> = {};
  for (const key of RESOURCE_KEYS) {
    const text = values.resources[key].trim();
    if (text) {
      resources[key] = resourceValue(key, text);
    }
  }
  if (Object.keys(resources).length) {
    config.Resources = resources;
  }
  const environment: Record<string, unknown> = {};
  const modules = values.modules
    .split(/[,\n]/)
    .map(m => m.trim())
    .filter(Boolean);
  if (modules.length) {
    environment.Modules = modules;
  }
  const variables: Record<string, string> = {};
  for (const line of values.variables.split('\n')) {
    const [key, ...rest] = line.split('=');
    if (key.trim()) {
      variables[key.trim()] = rest.join('=');
    }
  }
  if (Object.keys(variables).length) {
    environment.Variables = variables;
  }
  if (values.environment === 'venv' && values.venv.trim()) {
    environment.Python = values.venv.trim();
  }
  if (values.environment === 'apptainer' && values.image.trim()) {
    environment.Apptainer = { Path: values.image.trim() };
  }
  if (Object.keys(environment).length) {
    config.Environment = environment;
  }
  const texts = Object.fromEntries(
    Object.entries(values.parameters).filter(([name, text]) => text !== baseline[name])
  );
  return {
    site: values.site,
    config,
    parameter_texts: texts,
    name: values.name.trim() || undefined
  };
}
