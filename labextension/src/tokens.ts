/**
 * What the lab plugin offers other extensions: require `IMantikRuns` in a plugin to use
 * the same REST client and the same live runs model as the "HPC runs" panel.
 */
import { Token } from '@lumino/coreutils';

import { MantikApi } from './api';
import { RunsModel } from './runsModel';

export interface IMantikRuns {
  /** The client of the server extension's REST API (`{base_url}mantik/api/`). */
  readonly api: MantikApi;
  /** The runs the panel lists, kept live; `stateChanged` tells every state change seen. */
  readonly model: RunsModel;
}

export const IMantikRuns = new Token<IMantikRuns>(
  'mantik-jupyter:IMantikRuns',
  'The mantik-jupyter REST client and live runs model, for extensions that show or act on HPC runs.'
);
