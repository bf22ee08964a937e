"""A run's Data in its details: the items staged for it, with their size and whether they
came from the site's cache (here the project's own CliMetLab dataset on the local site)."""

from __future__ import annotations

import time

from lab_page import show_panel
from playwright.sync_api import Page, expect

ITEM = "Dataset mantik-demo-t2m {year: 2024}"


def test_the_details_list_the_staged_data(page: Page, lab):
    run = lab.api("POST", "runs", {
        "notebook": "quickstart.ipynb", "site": "local", "name": "ui-data",
        "config": {"Data": [{"Dataset": "mantik-demo-t2m", "Args": {"year": 2024}}]}})
    deadline = time.monotonic() + 300
    while (ended := lab.api("GET", f"runs/{run['id']}"))["state"] not in (
            "COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, ended
        time.sleep(1)
    assert ended["state"] == "COMPLETED", ended
    show_panel(page)
    page.evaluate("id => window.jupyterapp.commands.execute('mantik:open-run', {id})",
                  run["id"])
    data = page.locator(".jp-MantikDetails:visible .jp-MantikOverview-data")
    expect(data).to_contain_text(ITEM, timeout=30_000)
    size = ended["data"][0]["size"]
    assert ended["data"] == [{"item": ITEM, "size": size, "cached": False}]
    expect(data).to_contain_text(", downloaded")
