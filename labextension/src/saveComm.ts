/**
 * The frontend half of the magics' "save before packaging": a comm target
 * `mantik:save` on every notebook's kernel that saves the notebook and answers
 * `{saved: true, path}` (or `{saved: false, path, error}`), then closes the comm:
 * the kernel never closes it, so neither side gets a close for a comm it dropped.
 * The server learns which kernels have this target, and the magics open the comm only
 * there: a frontend without it would log an unknown comm target.
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

import { MantikApi } from './api';

export const SAVE_COMM_TARGET = 'mantik:save';

function register(
  panel: NotebookPanel,
  api: MantikApi,
  kernel: Kernel.IKernelConnection | null
): void {
  if (!kernel) {
    return;
  }
  kernel.registerCommTarget(SAVE_COMM_TARGET, async comm => {
    const path = panel.context.path;
    try {
      await panel.context.save();
      comm.send({ saved: true, path });
    } catch (error) {
      comm.send({ saved: false, path, error: String((error as Error).message ?? error) });
    }
    comm.close();
  });
  api.announceSaveFrontend(kernel.id).catch(error => {
    console.warn(`mantik: the magics will not ask to save ${panel.context.path}`, error);
  });
}

/** Keep the target registered on the notebook's kernel across kernel changes. */
export function watchSaveRequests(panel: NotebookPanel, api: MantikApi): void {
  const session = panel.sessionContext;
  session.kernelChanged.connect((_, change) => register(panel, api, change.newValue));
  register(panel, api, session.session?.kernel ?? null);
}
