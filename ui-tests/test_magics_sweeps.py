"""The magics' sweep card and schedules table where users see them, in JupyterLab.

A notebook run top to bottom submits another (train.ipynb) as a 3-point sweep on the local
site, adds an hourly schedule of it and lists the schedules; the test watches the sweep card
count its points to the end and name the best, and the schedules table follow a pause made
elsewhere (the REST API), without running any cell again. Screenshots go to ui-tests/out/
(copied to docs/screenshots/); the page must log no console error (conftest).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import nbformat
from conftest import OUT
from playwright.sync_api import Page, expect
from test_magics import RUN_ALL, RUN_TIMEOUT, cell_output, run_id_of

TRAIN = "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('score', lr)"
SWEEP = ("%%mantik_submit --notebook train.ipynb --site local --name ui-sweep\n"
         "Sweep:\n  Grid: {lr: [0.1, 0.3, 0.2]}\n  Objective: {Metric: score, Goal: maximize}")


def write_notebook(path, *cells: str, parameters: str | None = None) -> None:
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[code(c) for c in cells])
    if parameters:
        nb.cells.insert(0, code(parameters, metadata={"tags": ["parameters"]}))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


def test_sweep_card_counts_to_the_end_and_the_schedules_table_follows(page: Page, lab):
    write_notebook(lab.root / "train.ipynb", TRAIN, parameters="lr: float = 0.1")
    # hourly, next at a minute ~5 min ahead: the table watches it, it never fires here
    minute = (datetime.now(timezone.utc) + timedelta(minutes=5)).minute
    write_notebook(lab.root / "sweep.ipynb", "%load_ext mantik_magics", SWEEP,
                   f"%mantik_submit --notebook train.ipynb --site local --cron '{minute} * * * *'"
                   " --timezone UTC", "%mantik_schedules")
    page.evaluate(RUN_ALL, "sweep.ipynb")

    card = cell_output(page, 1).locator(".mantik-sweep-card")
    expect(card).to_be_visible(timeout=120_000)
    sweep = run_id_of(card)
    counts = card.locator(".mantik-sweep-counts")
    expect(counts).to_contain_text("of 3 points")
    expect(card.locator(".mantik-action-cancel")).to_be_visible()

    table = cell_output(page, 3).locator(".mantik-schedules-table")
    expect(table).to_contain_text("active", timeout=120_000)
    expect(table.locator(".mantik-state")).to_have_attribute("data-state", "QUEUED")
    schedule = lab.api("GET", "schedules")["schedules"][0]
    lab.api("PATCH", f"schedules/{schedule['id']}", {"action": "pause"})
    expect(table).to_contain_text("paused", timeout=60_000)
    expect(table.locator(".mantik-state")).to_have_attribute("data-state", "CANCELLED")
    table.screenshot(path=str(OUT / "magics-schedules-light.png"))  # before any toast

    expect(counts).to_contain_text("3 COMPLETED", timeout=RUN_TIMEOUT)
    expect(card.locator(".mantik-state").first).to_have_attribute("data-state", "COMPLETED")
    expect(counts).to_contain_text("0 FAILED, 0 RUNNING, 0 QUEUED of 3 points")
    expect(card.locator(".mantik-sweep-best")).to_contain_text("point 1 (lr=0.3): score = 0.3")
    expect(card.locator(".mantik-action-cancel")).to_be_hidden()
    assert lab.api("GET", f"runs/{sweep}")["native_state"] == "3 points: 3 COMPLETED"
    # the returned sweep is not echoed under its card with the state it had then
    expect(cell_output(page, 1)).not_to_contain_text("<run ")

    card.screenshot(path=str(OUT / "magics-sweep-card-light.png"))
