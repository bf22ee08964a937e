"""The panel's lab settings, changed in JupyterLab's settings editor as a user does, and
their effect seen in the panel: the submit dialog's default site, notifications when a
run ends, the log viewer's font size. Own lab, so the settings reach no other test."""

from __future__ import annotations

import json

import pytest
from conftest import lab_page, running_lab
from lab_page import accept, field, open_quickstart, open_submit_dialog, row, show_panel
from playwright.sync_api import Page, expect

PLUGIN = "mantik-jupyter:plugin"
RUN_TIMEOUT = 300_000  # a run on a loaded 2-core machine
QUICK = {"epochs": "1", "seconds_per_epoch": "0"}

# Records the text of every notification toast the page shows, as it appears (toasts
# close by themselves, so looking later could miss one).
RECORD_TOASTS = """() => {
  window.__toasts = [];
  new MutationObserver(() => document.querySelectorAll('.jp-toast-message').forEach(t => {
    if (!t.dataset.seen) { t.dataset.seen = '1'; window.__toasts.push(t.textContent); }
  })).observe(document.body, {subtree: true, childList: true});
}"""


@pytest.fixture(scope="module")
def settings_lab(chromium, tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("settings-lab")) as lab:
        yield lab


@pytest.fixture(scope="module")
def settings_page(browser, settings_lab, console_log):
    with lab_page(browser, settings_lab, console_log) as page:
        page.evaluate(RECORD_TOASTS)
        open_quickstart(page)
        yield page


def change_setting(page: Page, key: str, value: str | bool | int) -> None:
    """Set one of the panel's settings in the settings editor; returns once JupyterLab has
    saved it and read it back (the moment the settings registry tells the extension)."""
    page.evaluate("window.jupyterapp.commands.execute('settingeditor:open', {query: 'HPC runs'})")
    control = page.locator(f'[id="jp-SettingsEditor-{PLUGIN}_{key}"]')
    saved = []

    def saves_value(request) -> bool:
        if request.method == "PUT" and f"/lab/api/settings/{PLUGIN}" in request.url:
            saved.append(json.loads(json.loads(request.post_data)["raw"]).get(key) == value)
        return bool(saved and saved[-1])

    def read_back(response) -> bool:
        return (bool(saved and saved[-1]) and response.request.method == "GET"
                and f"/lab/api/settings/{PLUGIN}" in response.url)

    with page.expect_response(read_back), page.expect_request(saves_value):
        if isinstance(value, bool):
            control.set_checked(value)
        else:
            control.fill(str(value))
            control.press("Tab")  # the editor saves a text field when it loses focus


def test_default_site_is_preselected_and_an_unknown_one_falls_back(settings_page, settings_lab):
    page = settings_page
    change_setting(page, "defaultSite", "juwels")
    dialog = open_submit_dialog(page)
    expect(field(dialog, "site")).to_have_value("juwels")
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()

    # a site that is not (or no longer) there: the server's default, shown and sent
    change_setting(page, "defaultSite", "gone-site")
    dialog = open_submit_dialog(page)
    expect(field(dialog, "site")).to_have_value("local")
    for name, text in QUICK.items():
        field(dialog, f"Parameters.{name}").fill(text)
    field(dialog, "name").fill("default-site-run")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)
    runs = settings_lab.api("GET", "runs")["runs"]
    assert [(r["name"], r["site"]) for r in runs] == [("default-site-run", "local")]


def test_notifications_follow_the_setting(settings_page, settings_lab):
    page = settings_page
    change_setting(page, "notifications", False)
    quiet = settings_lab.api("POST", "runs", {
        "notebook": "quickstart.ipynb", "name": "quiet",
        "parameter_texts": {"epochs": "2", "seconds_per_epoch": "1.5"}})
    show_panel(page)
    # seen running, so its end is a state change the notifier is asked about
    expect(row(page, quiet["id"])).to_have_attribute("data-state", "RUNNING",
                                                     timeout=RUN_TIMEOUT)
    expect(row(page, quiet["id"])).to_have_attribute("data-state", "COMPLETED",
                                                     timeout=RUN_TIMEOUT)
    change_setting(page, "notifications", True)
    loud = settings_lab.api("POST", "runs", {"notebook": "quickstart.ipynb", "name": "loud",
                                             "parameter_texts": QUICK})
    expect(row(page, loud["id"])).to_have_attribute("data-state", "COMPLETED",
                                                    timeout=RUN_TIMEOUT)
    expect(page.locator(".jp-toast-message", has_text="Run loud completed")).to_be_visible()
    # toasts show in the order they are emitted: had "quiet" been announced, it is seen by now
    toasts = page.evaluate("window.__toasts")
    assert any("Run loud completed" in t for t in toasts), toasts
    assert [t for t in toasts if "quiet" in t] == [], toasts


def test_log_font_size_applies_to_an_open_log(settings_page, settings_lab):
    page = settings_page
    run = settings_lab.api("GET", "runs")["runs"][0]
    show_panel(page)
    row(page, run["id"]).hover()
    row(page, run["id"]).locator(".jp-MantikRuns-log").click()
    line = page.locator(f"#mantik-run-{run['id']} .jp-MantikLog-line").first
    expect(line).to_have_css("font-size", "12px", timeout=30_000)
    change_setting(page, "logFontSize", 20)
    page.locator(f'.lm-TabBar-tab[data-id="mantik-run-{run["id"]}"]').click()
    expect(line).to_have_css("font-size", "20px")
    expect(line).to_have_css("line-height", "30px")
