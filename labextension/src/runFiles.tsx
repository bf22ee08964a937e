/** The files tab: browse the run's working directory and download files or folders. */
import { showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { downloadIcon, folderIcon, fileIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { IFileEntry, MantikApi } from './api';
import { saveBlob } from './download';
import { formatBytes, formatTime } from './format';

export interface IRunFilesProps {
  api: MantikApi;
  runId: string;
  trans: TranslationBundle;
}

interface IState {
  path: string;
  entries: IFileEntry[] | null;
  error: string | null;
}

export class RunFiles extends React.Component<IRunFilesProps, IState> {
  state: IState = { path: '', entries: null, error: null };

  componentDidMount(): void {
    void this._open('');
  }

  render(): React.ReactNode {
    const { trans } = this.props;
    const { path, entries, error } = this.state;
    const parts = path ? path.split('/') : [];
    return (
      <div className="jp-MantikFiles">
        <div className="jp-MantikFiles-crumbs">
          <button className="jp-MantikLink" onClick={() => void this._open('')}>
            {trans.__('run directory')}
          </button>
          {parts.map((part, i) => (
            <React.Fragment key={i}>
              {' / '}
              <button
                className="jp-MantikLink"
                onClick={() => void this._open(parts.slice(0, i + 1).join('/'))}
              >
                {part}
              </button>
            </React.Fragment>
          ))}
          <button
            className="jp-Button jp-mod-styled jp-mod-reject jp-MantikFiles-downloadAll"
            onClick={() => void this._download(path)}
            title={trans.__('Download this folder as a zip')}
          >
            <downloadIcon.react tag="span" /> {trans.__('Download folder')}
          </button>
        </div>
        {error && <div className="jp-MantikError">{error}</div>}
        {entries === null && !error && <div className="jp-MantikEmpty">{trans.__('Loading…')}</div>}
        {entries?.length === 0 && <div className="jp-MantikEmpty">{trans.__('No files yet')}</div>}
        <table className="jp-MantikFiles-table">
          <tbody>
            {(entries ?? []).map(entry => (
              <tr key={entry.path} className="jp-MantikFiles-entry">
                <td>
                  {entry.is_dir ? (
                    <button className="jp-MantikLink" onClick={() => void this._open(entry.path)}>
                      <folderIcon.react tag="span" className="jp-MantikFiles-icon" />
                      {baseName(entry.path)}/
                    </button>
                  ) : (
                    <span>
                      <fileIcon.react tag="span" className="jp-MantikFiles-icon" />
                      {baseName(entry.path)}
                    </span>
                  )}
                </td>
                <td className="jp-MantikFiles-size">{entry.is_dir ? '' : formatBytes(entry.size)}</td>
                <td className="jp-MantikFiles-time">{formatTime(entry.modified)}</td>
                <td>
                  <button
                    className="jp-MantikIconButton"
                    title={trans.__('Download %1', baseName(entry.path))}
                    onClick={() => void this._download(entry.path)}
                  >
                    <downloadIcon.react tag="span" />
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  private async _open(path: string): Promise<void> {
    this.setState({ path, entries: null, error: null });
    try {
      const entries = await this.props.api.files(this.props.runId, path);
      entries.sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
      this.setState({ entries });
    } catch (error) {
      this.setState({ error: String((error as Error).message ?? error) });
    }
  }

  private async _download(path: string): Promise<void> {
    try {
      const { blob, filename } = await this.props.api.download(this.props.runId, path);
      saveBlob(blob, filename);
    } catch (error) {
      void showErrorMessage(this.props.trans.__('Download failed'), error as Error);
    }
  }
}

function baseName(path: string): string {
  return path.split('/').filter(Boolean).pop() ?? path;
}
