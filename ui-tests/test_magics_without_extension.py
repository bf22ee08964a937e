"""The magics in a JupyterLab without this project's lab extension (a hub image without the
frontend part, or a user who disabled it): the kernel finds no frontend that saves the
notebook, says so and packages the file as last saved; the run card still follows the run
to its end; the page logs no console error (no ``mantik:save`` comm is opened at all)."""

from __future__ import annotations

from collections.abc import Iterator

import nbformat
import pytest
from conftest import Lab, running_lab
from playwright.sync_api import Browser, expect
from test_magics import RUN_ALL, RUN_TIMEOUT, cell_output

SUBMIT = "%%mantik_submit --site local --name bare-magics -p epochs=2\nResources:\n  Runtime: 5m"


@pytest.fixture(scope="module")
def bare_lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("bare"), lab_extension=False) as lab:
        yield lab


def test_the_magics_work_and_end_cleanly_without_the_lab_extension(
        browser: Browser, bare_lab: Lab, console_log: list[str]):
    code = nbformat.v4.new_code_cell
    params = code("epochs: int = 1")
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[
        code("%load_ext mantik_magics"), params,
        code("for epoch in range(1, epochs + 1):\n    print(f'epoch {epoch}/{epochs}')"),
        code(SUBMIT)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(bare_lab.root / "bare.ipynb"))

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("console", lambda m: console_log.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: console_log.append(f"uncaught: {exc}"))
    try:
        page.goto(bare_lab.url)
        expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=90_000)
        expect(page.locator('.lm-TabBar-tab[data-id="mantik-runs-panel"]')).to_have_count(0)
        page.evaluate(RUN_ALL, "bare.ipynb")
        out = cell_output(page, 3)
        expect(out).to_contain_text("no frontend that saves notebooks has it open",
                                    timeout=120_000)
        card = out.locator(".mantik-card")
        expect(card.locator(".mantik-state")).to_have_attribute(
            "data-state", "COMPLETED", timeout=RUN_TIMEOUT)
        run_id = card.locator("code").first.inner_text()
        assert "epoch 2/2" in bare_lab.api("GET", f"runs/{run_id}/logs")["data"]
        expect(card.locator(".mantik-action-cancel")).to_be_hidden()
    finally:
        page.close()
