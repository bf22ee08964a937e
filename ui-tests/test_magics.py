"""The magics' widgets where users see them: a notebook run top to bottom in JupyterLab.

The notebook submits itself twice (the second run is long) and shows the runs table; the
test watches the run cards and the table change without running any cell again, cancels
the long run from its card, opens a card's log, and takes screenshots of a card and the
table in both themes (ui-tests/out/, copied to docs/screenshots/). The page must log no
console error (conftest), so the ``mantik:save`` exchange ends cleanly too.
"""

from __future__ import annotations

import nbformat
from conftest import OUT
from lab_page import shot
from playwright.sync_api import Page, expect

RUN_TIMEOUT = 300_000  # a run on a loaded 2-core machine
PARAMETERS = "epochs: int = 1\nseconds_per_epoch: float = 0.0"
TRAIN = ("import time\nfor epoch in range(1, epochs + 1):\n"
         "    print(f'epoch {epoch}/{epochs}', flush=True)\n    time.sleep(seconds_per_epoch)")
SUBMIT = ("%%mantik_submit --site local --name ui-magics -p epochs=4 -p seconds_per_epoch=2\n"
          "Resources:\n  Runtime: 10m")
LONG = ("%%mantik_submit --site local --name ui-magics-long -p epochs=600 "
        "-p seconds_per_epoch=1\nResources:\n  Runtime: 10m")

# Records every state each card and table row shows, in order, as the widgets change.
RECORD_STATES = """() => {
  window.__magicsStates = {};
  const key = el => {
    const card = el.closest('.mantik-card');
    if (card) return 'card:' + card.querySelector('code').textContent;
    const row = el.closest('tr[data-run-id]');
    return row ? 'table:' + row.dataset.runId : null;
  };
  const record = () => document.querySelectorAll('.mantik-state').forEach(el => {
    const k = key(el);
    if (!k) return;
    const seq = (window.__magicsStates[k] ||= []);
    if (seq[seq.length - 1] !== el.dataset.state) seq.push(el.dataset.state);
  });
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true
  });
}"""

RUN_ALL = """async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path});
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
}"""


def write_notebook(path) -> None:
    code = nbformat.v4.new_code_cell
    params = code(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[
        code("%load_ext mantik_magics"), params, code(TRAIN), code(SUBMIT),
        code("%mantik_runs --limit 5"), code(LONG)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


def cell_output(page: Page, index: int):
    # the cell's own output area (a card holds one more for what its actions show)
    return page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(
        ".jp-OutputArea").first


def run_id_of(card) -> str:
    return card.locator("code").first.inner_text()


def test_magics_notebook_top_to_bottom_stays_live(page: Page, lab):
    write_notebook(lab.root / "magics.ipynb")
    page.evaluate(RECORD_STATES)
    page.evaluate(RUN_ALL, "magics.ipynb")

    submit_out = cell_output(page, 3)
    card = submit_out.locator(".mantik-card").first  # a re-run's card opens inside it
    expect(card).to_be_visible(timeout=120_000)
    # the frontend saved the notebook on the kernel's request, answering within the wait
    expect(submit_out).to_contain_text("packaging magics.ipynb: saved by the frontend")
    first = run_id_of(card)
    table = cell_output(page, 4).locator(".mantik-runs-table")
    row = table.locator(f"tr[data-run-id='{first}'] .mantik-state")
    expect(row).to_be_visible(timeout=120_000)
    long_card = cell_output(page, 5).locator(".mantik-card")
    expect(long_card).to_be_visible(timeout=120_000)
    second = run_id_of(long_card)

    state = card.locator(".mantik-state")
    expect(state).to_have_attribute("data-state", "RUNNING", timeout=RUN_TIMEOUT)
    expect(card.locator(".mantik-action-cancel")).to_be_visible()
    expect(card.locator(".mantik-action-re-run")).to_be_hidden()
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=60_000)
    shot(page, "magics-running-light")
    expect(state).to_have_attribute("data-state", "COMPLETED", timeout=RUN_TIMEOUT)
    expect(row).to_have_attribute("data-state", "COMPLETED", timeout=60_000)
    states = page.evaluate("window.__magicsStates")
    # recorded at once (SUBMITTING while the server uploads), then the site's states, in
    # order, each once (a short one may fall between two polls)
    seen, order = states[f"card:{first}"], ["SUBMITTING", "QUEUED", "RUNNING", "COMPLETED"]
    assert seen[-2:] == ["RUNNING", "COMPLETED"], states
    assert seen == sorted(set(seen), key=order.index), states
    assert states[f"table:{first}"][-2:] == ["RUNNING", "COMPLETED"], states
    # actions follow the state: no cancel on an ended run; re-run and download instead
    expect(card.locator(".mantik-action-cancel")).to_be_hidden()
    expect(card.locator(".mantik-action-re-run")).to_be_visible()
    expect(card.locator(".mantik-action-download")).to_be_visible()
    expect(card.locator(".mantik-action-executed-notebook")).to_be_visible()
    # the returned run is not echoed under the card with the state it had then
    expect(submit_out).not_to_contain_text("<run ")

    card.locator(".mantik-action-log").click()
    log = lab.api("GET", f"runs/{first}/logs")["data"]
    assert "epoch 4/4" in log
    expect(card.locator(".mantik-log")).to_contain_text(log.strip().splitlines()[-1].strip(),
                                                        timeout=60_000)
    card.locator(".mantik-action-executed-notebook").click()
    executed = f"mantik-runs/{first}/magics.ipynb"
    card.locator(".jp-OutputArea a", has_text=executed).click(timeout=60_000)
    expect(page.locator(f'.lm-TabBar-tab[title*="Path: {executed}"]')).to_be_visible(
        timeout=30_000)
    assert "epoch 4/4" in (lab.root / executed).read_text()
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[title*="Path: magics.ipynb"]').click()

    # re-run from the ended card: the new run's live card opens under it
    card.locator(".mantik-action-re-run").click()
    rerun_card = card.locator(".mantik-card")
    expect(rerun_card).to_be_visible(timeout=120_000)
    rerun = run_id_of(rerun_card)
    assert rerun != first and lab.api("GET", f"runs/{rerun}")["parent_id"] == first

    long_state = long_card.locator(".mantik-state")
    expect(long_state).to_have_attribute("data-state", "RUNNING", timeout=RUN_TIMEOUT)
    long_card.locator(".mantik-action-cancel").click()
    expect(long_state).to_have_attribute("data-state", "CANCELLED", timeout=RUN_TIMEOUT)
    expect(long_card.locator(".mantik-action-cancel")).to_be_hidden()
    assert lab.api("GET", f"runs/{second}")["state"] == "CANCELLED"
    expect(rerun_card.locator(".mantik-state")).to_have_attribute("data-state", "COMPLETED",
                                                                  timeout=RUN_TIMEOUT)

    for theme in ("dark", "light"):
        if theme == "dark":
            page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: 'JupyterLab Dark'})")
            expect(page.locator("body[data-jp-theme-light='false']")).to_be_attached(
                timeout=30_000)
        card.screenshot(path=str(OUT / f"magics-card-{theme}.png"))
        table.screenshot(path=str(OUT / f"magics-table-{theme}.png"))
        if theme == "dark":
            page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: 'JupyterLab Light'})")
            expect(page.locator("body[data-jp-theme-light='true']")).to_be_attached(
                timeout=30_000)
