/**
 * The sites section of the panel: each site's kind, health (the last connection test)
 * and credentials status, with "Test connection".
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, closeIcon, editIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { IHealth, IJsonSchema, ISite, MantikApi } from './api';
import { ServerFormDialog } from './formDialog';
import { formatTime } from './format';
import { ISiteFormValue, SiteForm, saveSite } from './siteForm';

export interface ISitesSectionProps {
  api: MantikApi;
  trans: TranslationBundle;
}

interface IState {
  sites: ISite[] | null;
  /** The profile schema; absent while the server cannot manage profiles. */
  schema: IJsonSchema | null;
  error: string | null;
  testing: Set<string>;
  open: boolean;
}

function HealthDot(props: { health: IHealth | null; trans: TranslationBundle }): JSX.Element {
  const { health, trans } = props;
  const state = !health ? 'unknown' : health.ok ? 'ok' : 'failed';
  const title = !health
    ? trans.__('Not tested yet')
    : trans.__('%1 (tested %2)', health.message, formatTime(health.time));
  return <span className={`jp-MantikHealth jp-MantikHealth-${state}`} title={title} />;
}

export class SitesSection extends React.Component<ISitesSectionProps, IState> {
  state: IState = { sites: null, schema: null, error: null, testing: new Set(), open: true };

  componentDidMount(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const reply = await this.props.api.sitesReply();
      this.setState({ sites: reply.sites, schema: reply.schema ?? null, error: null });
    } catch (error) {
      this.setState({ error: String((error as Error).message ?? error) });
    }
  }

  render(): React.ReactNode {
    const { trans } = this.props;
    const { sites, schema, error, testing, open } = this.state;
    return (
      <section className="jp-MantikSites">
        <button
          className="jp-MantikSites-header"
          aria-expanded={open}
          onClick={() => this.setState({ open: !open })}
        >
          <span className={`jp-MantikCaret${open ? ' jp-mod-open' : ''}`} />
          {trans.__('Sites')}
        </button>
        {open && schema && (
          <button
            className="jp-MantikIconButton jp-MantikSites-add"
            title={trans.__('Add a site profile')}
            onClick={() => void this._edit(null)}
          >
            <addIcon.react tag="span" /> {trans.__('Add site')}
          </button>
        )}
        {open && error && <div className="jp-MantikError">{error}</div>}
        {open && (
          <ul className="jp-MantikSites-list">
            {(sites ?? []).map(site => (
              <li key={site.name} className="jp-MantikSite" data-site={site.name}>
                <HealthDot health={site.health} trans={trans} />
                <span className="jp-MantikSite-name" title={site.title}>
                  {site.name}
                </span>
                <span className="jp-MantikSite-info">
                  <span className="jp-MantikSite-kind">{site.kind}</span>
                  {site.credentials_set !== undefined && (
                    <span className="jp-MantikSite-credentials">
                      {site.credentials_set
                        ? trans.__('credentials set')
                        : trans.__('no credentials')}
                    </span>
                  )}
                </span>
                <button
                  className="jp-Button jp-mod-styled jp-mod-reject jp-MantikSite-test"
                  disabled={testing.has(site.name)}
                  onClick={() => void this._test(site.name)}
                >
                  {testing.has(site.name) ? trans.__('Testing…') : trans.__('Test connection')}
                </button>
                {schema && site.origin === 'user' && (
                  <>
                    <button
                      className="jp-MantikIconButton jp-MantikSite-edit"
                      title={trans.__('Edit %1', site.name)}
                      onClick={() => void this._edit(site)}
                    >
                      <editIcon.react tag="span" />
                    </button>
                    <button
                      className="jp-MantikIconButton jp-MantikSite-delete"
                      title={trans.__('Delete %1', site.name)}
                      onClick={() => void this._remove(site)}
                    >
                      <closeIcon.react tag="span" />
                    </button>
                  </>
                )}
                {site.health && (
                  <div
                    className={`jp-MantikSite-message jp-MantikSite-message-${site.health.ok ? 'ok' : 'failed'}`}
                  >
                    {site.health.message}
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
    );
  }

  /** Add (site null) or edit a user profile in a dialog that stays open on errors. */
  private async _edit(site: ISite | null): Promise<void> {
    const { api, trans } = this.props;
    if (!this.state.schema) {
      return;
    }
    const form = new SiteForm({ schema: this.state.schema, site, trans });
    const dialog = new ServerFormDialog({
      title: site ? trans.__('Edit site %1', site.name) : trans.__('Add a site'),
      form,
      acceptLabel: trans.__('Save'),
      className: 'jp-MantikSiteDialog',
      send: (value: ISiteFormValue) => saveSite(api, site, value)
    });
    await dialog.launch();
    if (dialog.result) {
      await this.refresh();
    }
  }

  private async _remove(site: ISite): Promise<void> {
    const { api, trans } = this.props;
    const answer = await showDialog({
      title: trans.__('Delete site %1?', site.name),
      body: trans.__('Its profile and stored secret are removed. Runs on it are kept.'),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Delete') })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api.removeSite(site.name);
    } catch (error) {
      await showErrorMessage(trans.__('Cannot delete %1', site.name), error as Error);
    }
    await this.refresh();
  }

  private async _test(name: string): Promise<void> {
    this.setState(state => ({ testing: new Set(state.testing).add(name) }));
    let health: IHealth;
    try {
      health = await this.props.api.testSite(name);
    } catch (error) {
      health = {
        ok: false,
        message: String((error as Error).message ?? error),
        time: new Date().toISOString()
      };
    }
    this.setState(state => {
      const testing = new Set(state.testing);
      testing.delete(name);
      const sites = (state.sites ?? []).map(s => (s.name === name ? { ...s, health } : s));
      return { testing, sites };
    });
  }
}
