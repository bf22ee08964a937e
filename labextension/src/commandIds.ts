/** The ids of the commands this extension adds (also named in schema/plugin.json). */
export const CommandIds = {
  submit: 'mantik:submit-notebook',
  submitSelected: 'mantik:submit-selected',
  openPanel: 'mantik:open-panel',
  openRun: 'mantik:open-run',
  showLog: 'mantik:show-log',
  cancel: 'mantik:cancel-run',
  rerun: 'mantik:rerun',
  rename: 'mantik:rename-run',
  remove: 'mantik:delete-run',
  download: 'mantik:download-run',
  openNotebook: 'mantik:open-executed-notebook',
  openMlflow: 'mantik:open-in-mlflow',
  rerunFailed: 'mantik:rerun-failed-points'
} as const;

/** A run's actions, in menu order. */
export const RUN_COMMANDS = [
  CommandIds.openRun,
  CommandIds.showLog,
  CommandIds.openNotebook,
  CommandIds.openMlflow,
  CommandIds.download,
  CommandIds.rerun,
  CommandIds.rerunFailed,
  CommandIds.rename,
  CommandIds.cancel,
  CommandIds.remove
];

/** The actions in a run's details toolbar. */
export const RUN_COMMANDS_IN_DETAILS = [
  CommandIds.cancel,
  CommandIds.rerun,
  CommandIds.openNotebook,
  CommandIds.openMlflow,
  CommandIds.download
];

/** The actions in a sweep's details toolbar. */
export const SWEEP_COMMANDS_IN_DETAILS = [
  CommandIds.cancel,
  CommandIds.rerunFailed,
  CommandIds.openMlflow
];
