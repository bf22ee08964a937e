"""The journey on a simulated HPC site: UNICORE in front of a real Slurm (the
repository's `simulator` fixture), its own lab whose sim-unicore site points at it."""

from __future__ import annotations

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
