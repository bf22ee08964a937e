"""Another extension's view: the lab plugin provides the IMantikRuns token, through which
the REST client and the panel's live runs model are reused."""

from __future__ import annotations

from lab_page import show_panel
from playwright.sync_api import Page, expect

# What a plugin that requires IMantikRuns gets, resolved the way JupyterLab resolves it:
# the token comes from the extension's own shared module, the service from the app.
RESOLVE = """
async () => {
  const factory = await window._JUPYTERLAB['mantik-jupyter'].get('./index');
  const { IMantikRuns } = factory();
  window.__mantikRuns = await window.jupyterapp.resolveRequiredService(IMantikRuns);
  const page = await window.__mantikRuns.api.runs({ limit: 5 });
  return { name: IMantikRuns.name, total: page.total, ids: page.runs.map(r => r.id) };
}
"""


def test_other_extensions_reuse_the_client_and_the_panels_model(page: Page, lab):
    show_panel(page)
    resolved = page.evaluate(RESOLVE)
    assert resolved["name"] == "mantik-jupyter:IMantikRuns"
    listed = lab.api("GET", "runs?limit=5")
    assert resolved["total"] == listed["total"]
    assert resolved["ids"] == [run["id"] for run in listed["runs"]]

    # the model is the one the panel shows: a filter set through the token shows in the panel
    states = page.locator("#mantik-runs-panel .jp-MantikRuns-stateFilter")
    expect(states).to_have_value("")
    page.evaluate("window.__mantikRuns.model.setFilter({ states: ['FAILED'] })")
    expect(states).to_have_value("FAILED")
    page.evaluate("window.__mantikRuns.model.setFilter({ states: [] })")
    expect(states).to_have_value("")
