import { LabIcon } from '@jupyterlab/ui-components';

/** A rack of compute nodes with an upward arrow: "send to HPC". */
export const mantikIcon = new LabIcon({
  name: 'mantik-jupyter:hpc',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="3" width="12" height="5" rx="1"/>' +
    '<rect x="3" y="10" width="12" height="5" rx="1"/>' +
    '<rect x="3" y="17" width="12" height="4" rx="1"/>' +
    '<path d="M19 21h2V8.8l1.6 1.6L24 9l-4-4-4 4 1.4 1.4L19 8.8z"/>' +
    '</g></svg>'
});
