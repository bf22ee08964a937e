/**
 * The submit form's values and how they become a request: resources and environment
 * into the run configuration, changed parameters as texts the server converts to the
 * declared types. Field keys are the configuration keys the server names in errors.
 */
import { IParameter, IRun, IRunConfig, IScheduleKeys, ISubmission } from './api';

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

/** When a new run starts: now, once at a time, or repeating on a cron. */
export type When = 'now' | 'at' | 'repeat';

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
  when: When;
  /** a local date and time (the browser's zone), as a datetime-local input gives it */
  at: string;
  cron: string;
  timezone: string;
}

/** The browser's IANA zone: a schedule repeats in the user's local time. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The Schedule keys the form's "when" asks for (none for "now"). */
export function scheduleOf(values: ISubmitValues): IScheduleKeys | undefined {
  if (values.when === 'at') {
    const at = new Date(values.at);
    return { At: Number.isNaN(at.getTime()) ? values.at : at.toISOString() };
  }
  if (values.when === 'repeat') {
    return { Cron: values.cron.trim(), Timezone: values.timezone.trim() || browserZone() };
  }
  return undefined;
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
    variables: '',
    when: 'now',
    at: '',
    cron: '',
    timezone: browserZone()
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
  const python = environment.Python as string | { Path?: string } | undefined;
  values.environment = apptainer ? 'apptainer' : python ? 'venv' : 'none';
  values.venv = typeof python === 'object' ? (python.Path ?? '') : textOf(python);
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

/** Set `key` to `value`, or drop the key where the form leaves it empty (undefined). */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) {
    delete target[key];
  } else {
    target[key] = value;
  }
}

/** A section with something in it, else undefined (the section is dropped). */
function filled(section: Record<string, unknown>): Record<string, unknown> | undefined {
  return Object.keys(section).length ? section : undefined;
}

/**
 * The request for the form: empty fields are left out (an empty parameter takes the
 * notebook's default, which its field shows), parameters only where they differ from
 * `defaults` (the notebook's). With `edited`, the configuration of the run being
 * re-run, the request replaces that run's configuration and parameters: keys the form
 * does not show are kept as they were, the ones it shows are what it says, so a field
 * cleared in the form is gone from the new run.
 */
export function buildSubmission(
  values: ISubmitValues,
  defaults: Record<string, string>,
  edited?: IRunConfig
): ISubmission {
  const config = JSON.parse(JSON.stringify(edited ?? {})) as IRunConfig;
  delete config.Parameters; // the form's parameters and site stand for these
  delete config.Site;
  delete config.Schedule; // a re-run starts now: the start time was the run's own
  const resources = { ...config.Resources };
  for (const key of RESOURCE_KEYS) {
    const text = values.resources[key].trim();
    setKey(resources, key, text ? resourceValue(key, text) : undefined);
  }
  setKey(config, 'Resources', filled(resources));

  const environment = { ...config.Environment };
  const modules = values.modules
    .split(/[,\n]/)
    .map(m => m.trim())
    .filter(Boolean);
  setKey(environment, 'Modules', modules.length ? modules : undefined);
  const variables: Record<string, string> = {};
  for (const line of values.variables.split('\n')) {
    const [key, ...rest] = line.split('=');
    if (key.trim()) {
      variables[key.trim()] = rest.join('=');
    }
  }
  setKey(environment, 'Variables', filled(variables));
  const venv = values.venv.trim();
  setKey(environment, 'Python', values.environment === 'venv' && venv ? venv : undefined);
  const image = values.image.trim();
  const apptainer = environment.Apptainer as Record<string, unknown> | undefined;
  setKey(
    environment,
    'Apptainer',
    values.environment === 'apptainer' && image ? { ...apptainer, Path: image } : undefined
  );
  setKey(config, 'Environment', filled(environment));

  const texts = Object.fromEntries(
    Object.entries(values.parameters).filter(
      ([name, text]) => text !== '' && text !== defaults[name]
    )
  );
  const schedule = edited ? undefined : scheduleOf(values);
  return {
    site: values.site,
    config,
    parameter_texts: texts,
    name: values.name.trim() || undefined,
    ...(edited ? { replace: true } : {}),
    ...(schedule ? { schedule } : {})
  };
}
