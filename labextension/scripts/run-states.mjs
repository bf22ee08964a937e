/**
 * Writes labextension/src/runStates.ts from the State schema of
 * mantik_jupyter/server/openapi.yaml, the one list of run states (run by `jlpm build`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const specPath = join(root, 'mantik_jupyter', 'server', 'openapi.yaml');
const outPath = join(root, 'labextension', 'src', 'runStates.ts');

const state = yaml.load(readFileSync(specPath, 'utf8')).components.schemas.State;
const all = state.enum;
const active = state['x-active'];
const terminal = state['x-terminal'];
const unsorted = all.filter(s => active.includes(s) === terminal.includes(s));
if (unsorted.length || [...active, ...terminal].some(s => !all.includes(s))) {
  throw new Error(
    `${specPath}: every State must be in exactly one of x-active and x-terminal ` +
      `(not so: ${unsorted.join(', ') || 'a name outside the enum'})`
  );
}

const list = names => `[\n${names.map(s => `  '${s}'`).join(',\n')}\n]`;
const text = `// Generated from the State schema of mantik_jupyter/server/openapi.yaml by
// labextension/scripts/run-states.mjs (run by \`jlpm build\`): edit the OpenAPI file, not this.

/** A run's normalised state. */
export type RunState =
${all.map(s => `  | '${s}'`).join('\n')};

/** Every state, in the OpenAPI enum's order. */
export const RUN_STATES: RunState[] = ${list(all)};

/** States in which a run may still change. */
export const ACTIVE_STATES: RunState[] = ${list(active)};

/** States a run never leaves. */
export const TERMINAL_STATES: RunState[] = ${list(terminal)};
`;
// rewritten only when it changed, so an unchanged build leaves the file (and tsc) alone
if (!existsSync(outPath) || readFileSync(outPath, 'utf8') !== text) {
  writeFileSync(outPath, text);
}
