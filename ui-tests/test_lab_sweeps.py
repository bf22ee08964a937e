"""A parameter sweep made and compared in the lab: the submit dialog's sweep section (a
2 x 2 grid of the quickstart on the local site, its points counted by the server before
submitting), the sweep as one row of the runs panel whose progress bar counts its points
to the end and which expands into them, and its results tab: the table ranked by the
objective (best highlighted, sortable) and the chart drawn by JupyterLab's own Vega-Lite
renderer. A second sweep (through the REST API) has a point that fails: the panel counts it,
its results row gives the reason, and "Re-run Failed Points" submits it alone as a new
sweep. A third is cancelled from its row, every point with it. Screenshots go to
ui-tests/out/ (copied to docs/screenshots/)."""

from __future__ import annotations

from lab_page import accept, field, open_quickstart, open_submit_dialog, row, shot, show_panel
from playwright.sync_api import Page, expect
from test_magics import RUN_TIMEOUT


def ended_sweep_row(page: Page, lab, sweep: str, state: str, **counts: int):
    """The sweep's row once it ended in ``state`` with its progress bar counting ``counts``
    (completed=4, failed=1, ...)."""
    show_panel(page)
    sweep_row = row(page, sweep)
    try:
        expect(sweep_row).to_have_attribute("data-state", state, timeout=RUN_TIMEOUT)
    except AssertionError as err:  # which point ended otherwise, and why
        points = [(p["point"], p["state"], p["reason"])
                  for p in lab.api("GET", f"runs?sweep={sweep}")["runs"]]
        raise AssertionError(f"{err}\npoints: {points}") from None
    progress = sweep_row.locator(".jp-MantikSweep-progress")
    for part, n in counts.items():  # the points' states arrive after the sweep's own
        expect(progress).to_have_attribute(f"data-{part}", str(n), timeout=60_000)
    return sweep_row


def test_a_sweep_from_the_submit_dialog_to_its_results_chart(page: Page, lab):
    open_quickstart(page)
    dialog = open_submit_dialog(page)
    field(dialog, "site").select_option("local")
    field(dialog, "name").fill("ui-lab-sweep")
    field(dialog, "Sweep").check()  # the parameter fields now take lists
    field(dialog, "Parameters.lr").fill("0.01, 0.1")
    field(dialog, "Parameters.epochs").fill("1, 2")
    field(dialog, "Parameters.seconds_per_epoch").fill("0")
    field(dialog, "Sweep.MaxConcurrent").fill("2")
    field(dialog, "Sweep.Objective").fill("loss")
    count = dialog.locator(".jp-MantikSubmit-sweepCount")
    expect(count).to_have_attribute("data-arrays", "1", timeout=60_000)  # the server's plan
    expect(count).to_have_attribute("data-points", "4")
    expect(count).to_have_text("4 points in 1 job array")
    count.scroll_into_view_if_needed()
    shot(page, "submit-dialog-sweep-light")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)

    listed = lab.api("GET", "runs?points=false&text=ui-lab-sweep")["runs"]
    assert len(listed) == 1 and listed[0]["sweep_id"] == listed[0]["id"]
    sweep = listed[0]["id"]

    # one row in the panel; its points are not rows of their own until it is expanded (the
    # dialog closed on the SUBMITTING answer: the points are recorded in the background)
    sweep_row = ended_sweep_row(page, lab, sweep, "COMPLETED", completed=4, total=4)
    points = lab.api("GET", f"runs?sweep={sweep}")["runs"]
    assert sorted(p["point"] for p in points) == [0, 1, 2, 3]
    assert {(p["parameters"]["lr"], p["parameters"]["epochs"]) for p in points} == {
        (0.01, 1), (0.01, 2), (0.1, 1), (0.1, 2)}
    expect(sweep_row.locator(".jp-MantikSweep-progress")).to_have_attribute(
        "title", "4 completed, 0 failed, 0 running, 0 queued of 4 (COMPLETED 4)")
    point_rows = page.locator(".jp-MantikSweep-point")
    expect(point_rows).to_have_count(0)
    for point in points:
        expect(row(page, point["id"])).to_have_count(0)
    sweep_row.locator(".jp-MantikSweep-toggle").click()
    expect(point_rows).to_have_count(4)
    assert point_rows.evaluate_all("rows => rows.map(r => r.dataset.point)") == [
        "0", "1", "2", "3"]
    first = next(p for p in points if p["point"] == 0)
    expect(point_rows.first).to_contain_text(
        f"lr={first['parameters']['lr']}, epochs={first['parameters']['epochs']}")
    expect(point_rows.first.locator(".jp-MantikState")).to_have_attribute(
        "data-state", "COMPLETED")
    shot(page, "panel-sweep-light")
    point_rows.nth(1).click()  # a point opens its run details as a run does
    second = next(p for p in points if p["point"] == 1)
    expect(page.locator(".jp-MantikDetails:visible")).to_contain_text(second["id"])

    # the sweep's results: ranked by loss, the best highlighted, sortable, charted
    show_panel(page)
    sweep_row.click()
    details = page.locator(".jp-MantikDetails:visible")
    expect(details.locator('.jp-MantikTab[data-tab="results"]')).to_have_attribute(
        "aria-selected", "true")
    results = lab.api("GET", f"runs/{sweep}/results")
    losses = {r["point"]: r["metrics"]["loss"] for r in results["rows"]}
    best = min(losses, key=losses.get)
    assert [r["point"] for r in results["rows"] if r["best"]] == [best]
    table_rows = details.locator(".jp-MantikResults-table tbody tr")
    expect(table_rows).to_have_count(4, timeout=60_000)
    expect(details.locator("tr.jp-mod-best")).to_have_count(1)
    expect(details.locator("tr.jp-mod-best")).to_have_attribute("data-point", str(best))
    expect(table_rows.first).to_have_attribute("data-point", str(best))
    loss_head = details.locator('th[data-column="loss"]')
    loss_head.click()
    expect(loss_head).to_have_attribute("aria-sort", "ascending")
    loss_head.click()
    expect(loss_head).to_have_attribute("aria-sort", "descending")
    worst = max(losses, key=losses.get)
    expect(table_rows.first).to_have_attribute("data-point", str(worst))
    expect(details.locator("tr.jp-mod-best")).to_have_attribute("data-point", str(best))

    chart = details.locator(".jp-MantikResults-chart")
    marks = chart.locator(".vega-embed .marks")
    expect(marks).to_be_visible(timeout=60_000)
    details.locator(".jp-MantikResults-parameter").select_option("epochs")
    expect(marks).to_be_visible(timeout=60_000)
    assert marks.bounding_box()["width"] > 200
    details.locator(".jp-MantikResults-metric").scroll_into_view_if_needed()
    shot(page, "sweep-results-light")
    details.locator(".jp-MantikResults-chartKind").select_option("parallel")
    expect(details.locator(".jp-MantikResults-parameter")).to_have_count(0)
    expect(marks).to_be_visible(timeout=60_000)
    shot(page, "sweep-parallel-light")

    # a point that fails (time.sleep(-1) raises): counted, its reason shown, re-run alone
    failing = lab.api("POST", "runs", {
        "notebook": "quickstart.ipynb", "site": "local", "name": "ui-lab-sweep-fails",
        "parameter_texts": {"epochs": "1"}, "sweep_texts": ["seconds_per_epoch=0,-1"],
        "sweep": {"Objective": {"Metric": "loss"}}})["id"]
    ended_sweep_row(page, lab, failing, "FAILED", failed=1, completed=1, total=2).click()
    details = page.locator(f"#mantik-run-{failing}")
    failed = [r for r in lab.api("GET", f"runs/{failing}/results")["rows"]
              if r["state"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["parameters"]["seconds_per_epoch"] == -1
    failed_row = details.locator("tr.jp-mod-failed")
    expect(failed_row).to_have_count(1, timeout=60_000)
    expect(failed_row).to_have_attribute("data-point", str(failed[0]["point"]))
    expect(failed_row.locator(".jp-MantikResults-reason")).to_have_text(failed[0]["reason"])
    assert failed[0]["reason"]
    details.locator('[data-command="mantik:rerun-failed-points"]').click()
    again = page.locator(".jp-MantikDetails:visible .jp-MantikResults-table tbody tr")
    expect(again).to_have_count(1, timeout=120_000)
    rerun = lab.api("GET", "runs?points=false&limit=1")["runs"][0]
    assert rerun["id"] != failing and rerun["sweep_id"] == rerun["id"]
    assert rerun["parent_id"] == failing
    assert [p["parameters"]["seconds_per_epoch"]
            for p in lab.api("GET", f"runs?sweep={rerun['id']}")["runs"]] == [-1]

    # cancelling a sweep from its row ends every point: the running one and the one waiting
    # for it (MaxConcurrent 1)
    long = lab.api("POST", "runs", {
        "notebook": "quickstart.ipynb", "site": "local", "name": "ui-lab-sweep-cancel",
        "parameter_texts": {"seconds_per_epoch": "1"}, "sweep_texts": ["epochs=1000,1001"],
        "sweep": {"MaxConcurrent": 1}})["id"]
    long_row = row(page, long)
    expect(long_row).to_have_attribute("data-state", "RUNNING", timeout=RUN_TIMEOUT)
    long_row.hover()
    long_row.locator(".jp-MantikRuns-cancel").click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    expect(long_row).to_have_attribute("data-state", "CANCELLED", timeout=RUN_TIMEOUT)
    expect(long_row.locator(".jp-MantikSweep-progress")).to_have_attribute(
        "data-cancelled", "2", timeout=RUN_TIMEOUT)
    assert [p["state"] for p in lab.api("GET", f"runs?sweep={long}")["runs"]] == [
        "CANCELLED", "CANCELLED"]
