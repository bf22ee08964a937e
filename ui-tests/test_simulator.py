"""The journey on a simulated HPC site: UNICORE in front of a real Slurm (the
repository's `simulator` fixture), its own lab whose sim-unicore site points at it."""

from __future__ import annotations

import re

import pytest
from conftest import lab_page, running_lab
from lab_page import (
    RECORD_STATES,
    accept,
    field,
    newest_run_id,
    open_quickstart,
    open_submit_dialog,
    row,
    shot,
)
from playwright.sync_api import expect

RUN_TIMEOUT = 300_000  # a run on a loaded 2-core machine


@pytest.fixture(scope="module")
def sim_lab(chromium, simulator, tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("sim-lab"), sim_root=simulator.config.root) as lab:
        sites = {site["name"] for site in lab.api("GET", "sites")["sites"]}
        if "sim-unicore" not in sites:
            pytest.skip("this server has no sim-unicore site")
        yield lab


@pytest.fixture(scope="module")
def sim_page(browser, sim_lab, console_log):
    with lab_page(browser, sim_lab, console_log) as page:
        yield page


def test_submit_to_simulated_unicore_site_runs_on_slurm(sim_page, sim_lab):
    page = sim_page
    page.evaluate(RECORD_STATES)
    open_quickstart(page)
    dialog = open_submit_dialog(page)
    field(dialog, "site").select_option("sim-unicore")
    field(dialog, "Resources.Queue").fill("devel")
    field(dialog, "Resources.Runtime").fill("10m")
    field(dialog, "Parameters.epochs").fill("4")
    field(dialog, "Parameters.seconds_per_epoch").fill("1")
    field(dialog, "name").fill("ui-sim")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)

    run_id = newest_run_id(page, set())
    log = page.locator(f"#mantik-run-{run_id} .jp-MantikLog-lines")
    expect(log).to_contain_text("epoch 1/4", timeout=RUN_TIMEOUT)
    expect(row(page, run_id)).to_have_attribute("data-state", "COMPLETED", timeout=RUN_TIMEOUT)
    expect(log).to_contain_text("epoch 4/4", timeout=30_000)
    states = page.evaluate(f"window.__mantikStates['{run_id}']")
    assert "RUNNING" in states and states[-1] == "COMPLETED", states
    shot(page, "log-viewer-sim-unicore-light")
    run = sim_lab.api("GET", f"runs/{run_id}")
    assert run["site"] == "sim-unicore" and run["spec"]["Resources"]["Queue"] == "devel"
    assert run["remote_job_id"]

    page.locator(f'#mantik-run-{run_id} [data-command="mantik:open-executed-notebook"]').click()
    executed = page.locator('.lm-TabBar-tab[title*="mantik-runs/ui-sim/quickstart.ipynb"]')
    expect(executed).to_be_visible(timeout=60_000)


#: the simulator reads uploads at 8 MB/s: the 40 MB file below takes about five seconds
SLOW_LINK = {"route": r"/files/[0-9a-f]{64}$", "methods": ["PUT"], "bandwidth": 8 << 20}
PROGRESS = ".jp-MantikRuns-progress"
# Records every (run, phase text, bar value) a row's progress bar shows, as it changes.
RECORD_PROGRESS = """
() => {
  window.__mantikProgress = [];
  const record = () => document.querySelectorAll('.jp-MantikRuns-row').forEach(row => {
    const bar = row.querySelector('.jp-MantikRuns-progress');
    if (!bar) return;
    const text = row.querySelector('.jp-MantikRuns-duration').textContent;
    const seen = [row.dataset.runId, text, Number(bar.getAttribute('aria-valuenow'))];
    const all = window.__mantikProgress;
    if (!all.length || all[all.length - 1].join() !== seen.join()) all.push(seen);
  });
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, attributes: true, characterData: true
  });
}
"""


def test_the_runs_panel_shows_the_upload_moving(sim_page, sim_lab, simulator):
    from mantik_jupyter.sim.faults import FaultRule

    page = sim_page
    page.evaluate(RECORD_PROGRESS)
    data = sim_lab.root / "data.bin"
    data.write_bytes(b"\x5a" * (40 << 20))  # bundled with the quickstart notebook
    before = set(page.locator(".jp-MantikRuns-row").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)"))
    simulator.site.faults.replace([FaultRule.from_dict(SLOW_LINK)])
    try:
        dialog = open_submit_dialog(page)
        field(dialog, "site").select_option("sim-unicore")
        field(dialog, "name").fill("ui-upload")
        accept(dialog)
        expect(dialog).to_be_hidden(timeout=60_000)  # closes once the run is recorded
        run_id = newest_run_id(page, before)
        bar = row(page, run_id).locator(PROGRESS)
        expect(row(page, run_id).locator(".jp-MantikRuns-duration")).to_contain_text(
            "uploading", timeout=60_000)
        expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-8]\d$"))  # mid-way
        shot(page, "panel-upload-progress-light")
        expect(row(page, run_id)).not_to_have_attribute("data-state", "SUBMITTING",
                                                        timeout=RUN_TIMEOUT)
    finally:
        simulator.site.faults.replace([])
        data.unlink()
    expect(bar).to_be_hidden()
    assert sim_lab.api("GET", f"runs/{run_id}")["progress"] is None
    seen = page.evaluate("window.__mantikProgress")
    uploading = [value for run, text, value in seen
                 if run == run_id and text.startswith("uploading")]
    assert uploading == sorted(uploading), seen  # the bar only moves forward
    assert len({v for v in uploading if 0 < v < 100}) >= 2, seen  # and moves while it uploads
