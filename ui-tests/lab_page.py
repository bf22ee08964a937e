"""Finding things in the lab page: the runs panel, its rows, the submit dialog."""

from __future__ import annotations

import time

from conftest import OUT
from playwright.sync_api import Page, expect

# Records every state each run row shows, so a test can assert the sequence it went
# through without reloading the page, and the run-state events the lab receives.
RECORD_STATES = """
() => {
  window.__mantikStates = {};
  const record = () => document.querySelectorAll('.jp-MantikRuns-row').forEach(row => {
    const seq = (window.__mantikStates[row.dataset.runId] ||= []);
    if (seq[seq.length - 1] !== row.dataset.state) seq.push(row.dataset.state);
  });
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']
  });
  window.__mantikEvents = [];
  window.jupyterapp.serviceManager.events.stream.connect((_, event) => {
    if (event.schema_id === 'https://events.mantik-jupyter.org/run-state/v1') {
      window.__mantikEvents.push(event);
    }
  });
}
"""

def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"))


def row(page: Page, run_id: str):
    return page.locator(f'.jp-MantikRuns-row[data-run-id="{run_id}"]')


def show_panel(page: Page) -> None:
    """Open the runs panel (clicking its tab when open would collapse it)."""
    if not page.locator("#mantik-runs-panel").is_visible():
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mantik-runs-panel"]').click()
    expect(page.locator("#mantik-runs-panel")).to_be_visible()


def open_quickstart(page: Page) -> None:
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]').click()
    page.locator(".jp-DirListing-item", has_text="quickstart.ipynb").dblclick()
    expect(page.locator(".jp-NotebookPanel:visible .jp-MantikSubmitButton")).to_be_visible(
        timeout=30_000)
    show_panel(page)


def open_submit_dialog(page: Page):
    """Bring the quickstart notebook to the front and click its toolbar button."""
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[title*="Path: quickstart.ipynb"]').click()
    page.locator(".jp-NotebookPanel:visible .jp-MantikSubmitButton").click()
    return submit_dialog(page)


def submit_dialog(page: Page):
    dialog = page.locator(".jp-MantikSubmitDialog")
    expect(dialog).to_be_visible(timeout=30_000)
    return dialog


def field(dialog, key: str):
    return dialog.locator(f'[data-key="{key}"]').locator("input, select, textarea").first


def accept(dialog) -> None:
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()


def newest_run_id(page: Page, other_than: set[str]) -> str:
    rows = page.locator(".jp-MantikRuns-row")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for run_id in rows.evaluate_all("rows => rows.map(r => r.dataset.runId)"):
            if run_id not in other_than:
                return run_id
        time.sleep(0.2)
    raise AssertionError("the new run did not appear in the panel")
