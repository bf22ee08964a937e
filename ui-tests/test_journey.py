"""The researcher's journey through the HPC runs panel, in a real browser.

The tests share one lab page and run in file order: submit from the notebook toolbar and
watch the run live, re-run with changes, a validation error next to its field, cancel a
long run, the dark theme, 10,000 runs. After every test, the page must have logged no
console error (conftest). Screenshots go to ui-tests/out/ (UI_OUT).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import expect_refused_request
from lab_page import (
    RECORD_STATES,
    accept,
    field,
    newest_run_id,
    open_quickstart,
    open_submit_dialog,
    row,
    shot,
    show_panel,
    submit_dialog,
)
from playwright.sync_api import Page, expect

from mantik_jupyter.store import Run, RunStore

RUN_TIMEOUT = 300_000  # a run on a loaded 2-core machine


@pytest.fixture(scope="module")
def journey() -> dict:
    """What the tests of this module pass on to each other (run ids)."""
    return {}


def test_submit_from_toolbar_runs_live_and_opens_executed_notebook(page: Page, lab, journey):
    page.evaluate(RECORD_STATES)
    open_quickstart(page)
    shot(page, "panel-empty-light")
    dialog = open_submit_dialog(page)
    expect(field(dialog, "Parameters.lr")).to_have_value("0.05")
    expect(field(dialog, "Parameters.tag")).to_have_value("quickstart")  # a str, unquoted
    field(dialog, "site").select_option("local")
    field(dialog, "Parameters.epochs").fill("6")
    field(dialog, "Parameters.seconds_per_epoch").fill("0.5")
    field(dialog, "Resources.Queue").fill("devel")
    field(dialog, "Resources.Runtime").fill("10m")
    field(dialog, "Environment.Variables").fill("KEEP=1\nDROP=2")
    field(dialog, "name").fill("ui-journey")
    shot(page, "submit-dialog-light")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)

    run_id = newest_run_id(page, set())
    journey["first"] = run_id
    log = page.locator(f"#mantik-run-{run_id} .jp-MantikLog-lines")
    expect(log).to_contain_text("epoch 1/6", timeout=RUN_TIMEOUT)
    # log lines arrive while the job still runs
    expect(row(page, run_id)).to_have_attribute("data-state", "RUNNING")
    shot(page, "log-viewer-light")
    expect(row(page, run_id)).to_have_attribute("data-state", "COMPLETED", timeout=RUN_TIMEOUT)
    expect(log).to_contain_text("epoch 6/6", timeout=60_000)
    states = page.evaluate(f"window.__mantikStates['{run_id}']")
    assert states[-3:] == ["QUEUED", "RUNNING", "COMPLETED"], states
    shot(page, "panel-light")
    # the server's run-state events reach the lab (the panel listens to the same stream)
    events = page.evaluate(
        f"window.__mantikEvents.filter(e => e.run_id === '{run_id}').map(e => e.new_state)")
    assert "RUNNING" in events and events[-1] == "COMPLETED", events

    page.locator(f'#mantik-run-{run_id} .jp-MantikTab[data-tab="files"]').click()
    files = page.locator(f"#mantik-run-{run_id} .jp-MantikFiles")
    files.locator(".jp-MantikLink", has_text="mantik-output/").click()
    expect(files.locator(".jp-MantikFiles-entry", has_text="quickstart.ipynb")).to_be_visible()
    page.locator(f'#mantik-run-{run_id} .jp-MantikTab[data-tab="log"]').click()

    run = lab.api("GET", f"runs/{run_id}")
    assert run["parameters"]["epochs"] == 6 and run["name"] == "ui-journey"
    assert run["spec"]["Resources"] == {"Queue": "devel", "Runtime": "10m"}
    assert "export DROP=2" in run["script"]
    page.locator(f'#mantik-run-{run_id} [data-command="mantik:open-executed-notebook"]').click()
    executed = page.locator('.lm-TabBar-tab[title*="mantik-runs/ui-journey/quickstart.ipynb"]')
    expect(executed).to_be_visible(timeout=30_000)
    assert (lab.root / "mantik-runs" / "ui-journey" / "quickstart.ipynb").exists()


def test_rerun_with_changes_is_prefilled_and_fields_cleared_in_it_are_gone(
        page: Page, lab, journey):
    first = journey["first"]
    show_panel(page)
    row(page, first).hover()
    row(page, first).locator(".jp-MantikRuns-more").click()
    page.locator(".jp-MantikRuns-menu .lm-Menu-item", has_text="Re-run with Changes").click()
    dialog = submit_dialog(page)
    expect(dialog.locator(".jp-Dialog-header")).to_contain_text("ui-journey")
    expect(field(dialog, "Parameters.epochs")).to_have_value("6")
    expect(field(dialog, "site")).to_have_value("local")
    expect(field(dialog, "Resources.Queue")).to_have_value("devel")
    expect(field(dialog, "Environment.Variables")).to_have_value("KEEP=1\nDROP=2")
    field(dialog, "Parameters.epochs").fill("2")
    field(dialog, "Parameters.seconds_per_epoch").fill("")  # back to the notebook's default
    field(dialog, "Resources.Queue").fill("")
    field(dialog, "Environment.Variables").fill("KEEP=1")
    field(dialog, "name").fill("ui-journey-rerun")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)
    second = newest_run_id(page, {first})
    journey["second"] = second
    expect(row(page, second)).to_contain_text("ui-journey-rerun")
    # the dialog closed once the run was recorded; its script exists once it is submitted
    expect(row(page, second)).not_to_have_attribute("data-state", "SUBMITTING",
                                                    timeout=RUN_TIMEOUT)
    run = lab.api("GET", f"runs/{second}")
    assert run["parent_id"] == first
    # the dialog's values replace the first run's: what was cleared there is gone
    assert run["parameters"] == {"epochs": 2}
    assert run["spec"]["Resources"] == {"Runtime": "10m"}
    assert run["spec"]["Environment"] == {"Variables": {"KEEP": "1"}}
    assert "DROP" not in run["script"] and "export KEEP=1" in run["script"]
    assert lab.api("GET", "runs")["total"] == 2


def test_server_validation_error_shows_next_to_the_field(page: Page, lab, console_errors):
    dialog = open_submit_dialog(page)
    field(dialog, "Resources.Runtime").fill("forever")
    accept(dialog)
    message = dialog.locator('[data-key="Resources.Runtime"] .jp-MantikField-error')
    expect(message).to_contain_text("Runtime", timeout=30_000)
    expect(message).to_contain_text("forever")
    expect(message).not_to_contain_text("Traceback")
    expect(dialog.locator(".jp-MantikSubmit-general")).to_have_count(0)
    expect(dialog).to_be_visible()
    shot(page, "submit-dialog-error-light")
    expect_refused_request(console_errors, 422)
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
    expect(dialog).to_be_hidden()
    assert lab.api("GET", "runs")["total"] == 2


def test_cancel_asks_for_confirmation_and_ends_cancelled(page: Page, lab, journey):
    dialog = open_submit_dialog(page)
    field(dialog, "Parameters.epochs").fill("1000")
    field(dialog, "Parameters.seconds_per_epoch").fill("1")
    field(dialog, "name").fill("ui-long")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)
    long_run = newest_run_id(page, {journey["first"], journey["second"]})
    show_panel(page)
    expect(row(page, long_run)).to_have_attribute("data-state", "RUNNING", timeout=RUN_TIMEOUT)
    row(page, long_run).hover()
    row(page, long_run).locator(".jp-MantikRuns-cancel").click()
    confirm = page.locator(".jp-Dialog", has_text="Cancel run ui-long?")
    expect(confirm).to_be_visible()
    # keeping it running leaves it running
    confirm.locator(".jp-Dialog-button.jp-mod-reject").click()
    expect(confirm).to_be_hidden()
    assert lab.api("GET", f"runs/{long_run}")["state"] == "RUNNING"
    row(page, long_run).hover()
    row(page, long_run).locator(".jp-MantikRuns-cancel").click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    expect(row(page, long_run)).to_have_attribute("data-state", "CANCELLED", timeout=RUN_TIMEOUT)
    assert lab.api("GET", f"runs/{long_run}")["state"] == "CANCELLED"
    notification = page.locator(".jp-toast-message", has_text="ui-long")
    expect(notification.first).to_be_visible(timeout=60_000)


def test_filters_and_search_narrow_the_list(page: Page):
    panel = page.locator("#mantik-runs-panel")
    panel.locator(".jp-MantikRuns-stateFilter").select_option("CANCELLED")
    expect(panel.locator(".jp-MantikRuns-row")).to_have_count(1)
    expect(panel.locator(".jp-MantikRuns-row").first).to_contain_text("ui-long")
    panel.locator(".jp-MantikRuns-stateFilter").select_option("")
    panel.locator(".jp-MantikRuns-search").fill("rerun")
    expect(panel.locator(".jp-MantikRuns-row")).to_have_count(1)
    expect(panel.locator(".jp-MantikRuns-summary")).to_have_text(re.compile(r"^1 run$"))
    panel.locator(".jp-MantikRuns-search").fill("")
    expect(panel.locator(".jp-MantikRuns-row")).to_have_count(3)


def test_dark_theme_screenshots(page: Page, journey):
    page.evaluate(
        "window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})")
    expect(page.locator("body[data-jp-theme-light='false']")).to_be_attached(timeout=30_000)
    show_panel(page)
    page.locator(f'.lm-TabBar-tab[data-id="mantik-run-{journey["first"]}"]').click()
    log = page.locator(f'#mantik-run-{journey["first"]} .jp-MantikLog-lines')
    expect(log).to_contain_text("epoch 6/6")
    shot(page, "log-viewer-dark")
    shot(page, "panel-dark")
    dialog = open_submit_dialog(page)
    shot(page, "submit-dialog-dark")
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
    page.evaluate(
        "window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})")


def test_ten_thousand_runs_scroll_in_server_pages(page: Page, lab):
    store = RunStore(lab.home / "runs.db")
    states = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]
    for i in range(10_000):
        store.insert(Run(
            id=f"bulk{i:08x}", name=f"bulk {i}", site="local", notebook="/nb/bulk.ipynb",
            state=states[i % 4], created_at=f"2026-01-01T00:00:00.{i:06d}+00:00",
        ))
    store.close()
    show_panel(page)
    panel = page.locator("#mantik-runs-panel")
    panel.locator(".jp-MantikRuns-search").fill("bulk")
    expect(panel.locator(".jp-MantikRuns-summary")).to_have_text("10000 runs", timeout=30_000)
    expect(panel.locator(".jp-MantikRuns-row").first).to_contain_text("bulk 9999")
    runs_list = panel.locator(".jp-MantikRuns-list")
    inner = runs_list.locator(".jp-MantikWindowedList-inner")
    for pages in range(2, 6):  # each scroll to the end loads the next page of 100
        runs_list.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        expect(inner).to_have_attribute("style", re.compile(f"height: {pages * 100 * 52}px"))
    runs_list.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(panel.locator(".jp-MantikRuns-row", has_text="bulk 9500")).to_be_visible()
    # only the rows in view (plus a margin) are in the page
    assert panel.locator(".jp-MantikRuns-row").count() < 80
    panel.locator(".jp-MantikRuns-search").fill("")
    expect(panel.locator(".jp-MantikRuns-summary")).to_have_text("10003 runs")


FRAME_GAPS = """() => {
  window.__maxFrameGap = 0;
  let last = performance.now();
  const tick = now => {
    window.__maxFrameGap = Math.max(window.__maxFrameGap, now - last);
    last = now;
    if (!window.__stopFrames) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def test_fifty_megabyte_log_loads_without_freezing_the_page(page: Page, lab, journey):
    run_id = journey["second"]
    deadline = time.monotonic() + 300
    while lab.api("GET", f"runs/{run_id}")["state"] != "COMPLETED":
        assert time.monotonic() < deadline, "the re-run did not complete"
        time.sleep(0.5)
    log_file = Path(lab.api("GET", f"runs/{run_id}")["work_dir"]) / "mantik-job.log"
    line = "\x1b[32mstep {:07d}\x1b[0m loss=0.1234 " + "x" * 70 + "\n"
    with open(log_file, "a") as fh:
        for i in range(500_000):
            fh.write("NEEDLE in the haystack\n" if i == 250_000 else line.format(i))
    assert log_file.stat().st_size > 50_000_000
    page.evaluate("id => { for (const w of window.jupyterapp.shell.widgets('main'))"
                  " if (w.id === id) w.close(); }", f"mantik-run-{run_id}")
    show_panel(page)
    page.evaluate(FRAME_GAPS)
    row(page, run_id).hover()
    started = time.monotonic()
    row(page, run_id).locator(".jp-MantikRuns-log").click()
    viewer = page.locator(f"#mantik-run-{run_id} .jp-MantikLog")
    expect(viewer.locator(".jp-MantikLog-status")).to_contain_text("complete", timeout=120_000)
    expect(viewer.locator(".jp-MantikLog-lines")).to_contain_text("step 0499999")
    max_gap = page.evaluate("window.__stopFrames = true; window.__maxFrameGap")
    print(f"50 MB log read in {time.monotonic() - started:.1f} s, longest frame {max_gap:.0f} ms")
    assert max_gap < 1500, f"the page froze for {max_gap:.0f} ms while the log loaded"
    assert viewer.locator(".jp-MantikLog-line").count() < 200  # only the lines in view
    viewer.locator(".jp-MantikLog-search").fill("needle")
    expect(viewer.locator(".jp-MantikLog-matches")).to_have_text("1 of 1")
    expect(viewer.locator(".jp-MantikLog-line.jp-mod-current")).to_contain_text("NEEDLE")
    shot(page, "log-viewer-50mb-light")


ADD_AND_RUN_CELL = """async (source) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  const cells = panel.content.model.sharedModel;
  cells.insertCell(cells.cells.length, {cell_type: 'code', source});
  panel.content.activeCellIndex = cells.cells.length - 1;
  await app.commands.execute('notebook:run-cell');
}"""


def test_kernel_save_request_saves_the_notebook_and_answers(page: Page, lab):
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[title*="Path: quickstart.ipynb"]').click()
    marker = "save-request-marker"
    page.evaluate(ADD_AND_RUN_CELL, (
        "from comm import create_comm\n"
        "replies = []\n"
        f"save = create_comm(target_name='mantik:save', data={{'path': 'quickstart.ipynb'}})\n"
        f"save.on_msg(lambda msg: replies.append(msg['content']['data']))  # {marker}"))
    on_disk = lab.root / "quickstart.ipynb"
    deadline = time.monotonic() + 120
    while marker not in on_disk.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker in on_disk.read_text(), "the notebook was not saved on the kernel's request"
    page.evaluate(ADD_AND_RUN_CELL, "print('replies:', replies)")
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output", has_text="replies:")
    expect(output).to_contain_text("'saved': True", timeout=30_000)
    expect(output).to_contain_text("'path': 'quickstart.ipynb'")
