"""A recurring schedule made in the browser: "When: repeat" in the submit dialog, the
Schedules section of the panel with the cron in words, the next time, the history (its run
opens), pause and delete (the local site, which holds the waiting run in its own process)."""

from __future__ import annotations

from conftest import expect_refused_request
from lab_page import accept, field, open_quickstart, open_submit_dialog, shot, show_panel
from playwright.sync_api import Page, expect


def test_a_recurring_schedule_from_the_submit_dialog_shows_in_the_schedules_section(
        page: Page, lab, console_errors):
    open_quickstart(page)
    dialog = open_submit_dialog(page)
    field(dialog, "site").select_option("local")
    field(dialog, "Schedule").select_option("repeat")
    field(dialog, "Schedule.Cron").fill("0 3 * *")
    accept(dialog)  # refused by the server, named next to its field; the dialog stays
    expect(dialog.locator('[data-key="Schedule.Cron"] .jp-MantikField-error')).to_contain_text(
        "not a cron expression", timeout=60_000)
    expect_refused_request(console_errors, 422)
    field(dialog, "Schedule.Cron").fill("0 3 * * 1")
    field(dialog, "Schedule.Timezone").fill("Europe/Berlin")
    field(dialog, "name").fill("weekly")
    shot(page, "submit-dialog-schedule-light")
    accept(dialog)
    expect(dialog).to_be_hidden(timeout=120_000)
    show_panel(page)
    item = page.locator(".jp-MantikSchedule", has_text="weekly")
    cron = item.locator(".jp-MantikSchedule-cron")
    expect(cron).to_have_text("At 03:00, only on Monday", timeout=30_000)
    expect(cron).to_have_attribute("title", "cron 0 3 * * 1 in Europe/Berlin")
    expect(item.locator(".jp-MantikSchedule-next")).to_contain_text("next ")
    expect(item.locator(".jp-MantikSchedule-next")).not_to_contain_text("–")
    expect(item).to_contain_text("Queued")
    item.locator(".jp-MantikSchedule-history").click()
    occurrence = item.locator(".jp-MantikSchedule-occurrence")
    expect(occurrence).to_have_count(1)
    expect(occurrence).to_contain_text("Queued")
    item.scroll_into_view_if_needed()
    shot(page, "schedules-light")
    schedule = lab.api("GET", "schedules")["schedules"][0]
    assert schedule["timezone"] == "Europe/Berlin" and schedule["next_time"]
    waiting = lab.api("GET", f"runs/{schedule['last_run']['id']}")
    assert waiting["state"] == "QUEUED" and waiting["reason"].startswith("starts at ")
    expect(occurrence.locator(".jp-MantikLink")).to_have_text(waiting["name"])
    occurrence.locator(".jp-MantikLink").click()  # the run's details open
    expect(page.locator(".jp-MantikDetails:visible")).to_contain_text(waiting["id"])
    show_panel(page)
    item.locator(".jp-MantikSchedule-pause").click()
    expect(item.locator(".jp-MantikSchedule-next")).to_have_text("paused")
    expect(occurrence).to_contain_text("Cancelled", timeout=30_000)  # the history follows
    item.locator(".jp-MantikSchedule-delete").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(item).to_have_count(0)
    assert lab.api("GET", f"runs/{waiting['id']}")["state"] == "CANCELLED"
