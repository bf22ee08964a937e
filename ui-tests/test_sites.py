"""The sites section: health, "Test connection", and user profiles whose secret is
write-only (typed once, never shown back)."""

from __future__ import annotations

import secrets

import pytest
from conftest import expect_refused_request
from lab_page import field, shot, show_panel
from playwright.sync_api import Page, expect

SECRET = f"planted-{secrets.token_hex(8)}"


def site_row(page: Page, name: str):
    return page.locator(f'#mantik-runs-panel .jp-MantikSite[data-site="{name}"]')


def test_test_connection_reports_success(page: Page):
    show_panel(page)
    local = site_row(page, "local")
    local.locator(".jp-MantikSite-test").click()
    expect(local.locator(".jp-MantikSite-message-ok")).to_be_visible(timeout=30_000)
    expect(local.locator(".jp-MantikHealth-ok")).to_be_visible()


def test_user_profile_form_secret_is_write_only_and_failure_is_reported(
    page: Page, lab, console_errors
):
    if "schema" not in lab.api("GET", "sites"):
        pytest.skip("this server has no site-profile routes (GET sites gives no schema)")
    show_panel(page)
    page.locator("#mantik-runs-panel .jp-MantikSites-add").click()
    dialog = page.locator(".jp-MantikSiteDialog")
    expect(dialog).to_be_visible()
    field(dialog, "name").fill("my-unicore")
    field(dialog, "kind").select_option("unicore")
    field(dialog, "url").fill("not a url")
    field(dialog, "auth").select_option("password")
    field(dialog, "username").fill("alice")
    field(dialog, "secret").fill(SECRET)
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    # the server's schema error shows next to the field it names
    expect(dialog.locator('[data-key="url"] .jp-MantikField-error')).to_contain_text("url")
    expect_refused_request(console_errors, 422)
    field(dialog, "url").fill("http://127.0.0.1:9/rest/core")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(dialog).to_be_hidden(timeout=120_000)

    row = site_row(page, "my-unicore")
    expect(row.locator(".jp-MantikSite-credentials")).to_have_text("credentials set")
    row.locator(".jp-MantikSite-edit").click()
    dialog = page.locator(".jp-MantikSiteDialog")
    expect(field(dialog, "username")).to_have_value("alice")
    expect(field(dialog, "secret")).to_have_value("")
    assert SECRET not in page.content()
    shot(page, "site-form-light")
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()

    row.locator(".jp-MantikSite-test").click()
    expect(row.locator(".jp-MantikSite-message-failed")).to_be_visible(timeout=60_000)
    expect(row.locator(".jp-MantikHealth-failed")).to_be_visible()

    row.locator(".jp-MantikSite-delete").click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    expect(row).to_have_count(0)
