/**
 * The frontend half of the magics' "save before packaging": a comm target
 * `mantik:save` on every notebook's kernel that saves the notebook and answers
 * `{saved: true, path}` (or `{saved: false, path, error}`).
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

export const SAVE_COMM_TARGET = 'mantik:save';

function register(panel: NotebookPanel, kernel: Kernel.IKernelConnection | null): void {
  kernel?.registerCommTarget(SAVE_COMM_TARGET, async comm => {
    const path = panel.context.path;
    try {
      await panel.context.save();
      comm.send({ saved: true, path });
    } catch (error) {
      comm.send({ saved: false, path, error: String((error as Error).message ?? error) });
    }
    comm.close();
  });
}

/** Keep the target registered on the notebook's kernel across kernel changes. */
export function watchSaveRequests(panel: NotebookPanel): void {
  const session = panel.sessionContext;
  session.kernelChanged.connect((_, change) => register(panel, change.newValue));
  register(panel, session.session?.kernel ?? null);
}
