"""Browser-test fixtures: Debian's Chromium, a real `jupyter lab` with the extension and
the mantik server extension (own home, own MLflow store), and one Playwright page.

Chromium is installed with apt-get when missing and running as root; otherwise the tests
skip saying why, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# the Slurm and simulator fixtures of the repository's tests (scripts/slurm-up)
sys.path.insert(0, str(REPO / "tests"))
pytest_plugins = ("slurm_fixtures",)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = Path(os.environ.get("UI_OUT", HERE / "out"))
TOKEN = secrets.token_hex(16)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (installed with apt-get when missing and root)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0:
            _unavailable(f"{CHROMIUM} is missing and installing it needs root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
            proc = _apt(cmd, env)
            if proc.returncode != 0:
                _unavailable(f"{' '.join(cmd)} failed: {proc.stderr[-1000:]}")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
    return CHROMIUM


def _apt(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run apt-get, waiting while another apt (another suite's, slurm-up's) holds its lock:
    `apt-get update` cannot wait for the lists lock by itself."""
    deadline = time.monotonic() + 900
    while True:
        proc = subprocess.run([cmd[0], "-o", "DPkg::Lock::Timeout=600", *cmd[1:]],
                              capture_output=True, text=True, env=env, timeout=900)
        locked = "Could not get lock" in proc.stderr or "Unable to lock" in proc.stderr
        if proc.returncode == 0 or not locked or time.monotonic() > deadline:
            return proc
        time.sleep(2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running `jupyter lab`: its URLs, contents root and a small REST client."""

    def __init__(self, port: int, root: Path, home: Path, log: Path):
        self.base = f"http://127.0.0.1:{port}"
        self.root = root
        self.home = home
        self.log = log

    @property
    def url(self) -> str:
        return f"{self.base}/lab?token={TOKEN}"

    def api(self, method: str, path: str, body: dict | None = None):
        """Call the mantik REST API; returns the decoded JSON (None when empty)."""
        response = requests.request(
            method, f"{self.base}/mantik/api/{path}", json=body, timeout=30,
            headers={"Authorization": f"token {TOKEN}"},
        )
        response.raise_for_status()
        return response.json() if response.content else None


@contextmanager
def running_lab(base: Path, sim_root: Path | None = None,
                lab_extension: bool = True) -> Iterator[Lab]:
    """`jupyter lab` with the extension, the quickstart notebook in its contents root.

    With ``sim_root``, the mantik home's ``sim`` folder is that simulator's, so the
    ``sim-unicore`` and ``sim-firecrest`` sites point at it. Without ``lab_extension`` the
    lab extension is disabled as `jupyter labextension disable` does it (the server
    extension stays: a hub image without the frontend part).
    """
    root = base / "root"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    home = base / "mantik-home"
    home.mkdir()
    if sim_root is not None:
        (home / "sim").symlink_to(sim_root)
    settings = base / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if not lab_extension:
        page_config = base / "config" / "labconfig" / "page_config.json"
        page_config.parent.mkdir(parents=True)
        page_config.write_text(json.dumps({"disabledExtensions": {"mantik-jupyter": True}}))
    OUT.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = OUT / f"jupyterlab-{base.name}.log"
    env = {
        **os.environ,
        "MANTIK_JUPYTER_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}",
        "JUPYTER_CONFIG_DIR": str(base / "config"),
    }
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
             f"--port={port}", f"--IdentityProvider.token={TOKEN}",
             f"--ServerApp.root_dir={root}", f"--config={HERE / 'jupyter_ui_test_config.py'}",
             f"--LabApp.user_settings_dir={settings}",
             f"--LabApp.workspaces_dir={base / 'workspaces'}"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base,
        )
        lab = Lab(port, root, home, log_path)
        try:
            _wait_ready(lab, proc)
            yield lab
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


def _wait_ready(lab: Lab, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({proc.returncode}); see {lab.log}")
        try:
            lab.api("GET", "config")
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer within 300 s; see {lab.log}")


@pytest.fixture(scope="session")
def browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def console_log() -> list[str]:
    """Console errors and uncaught exceptions of the lab page, as they come."""
    return []


@pytest.fixture(autouse=True)
def console_errors(console_log: list[str]) -> Iterator[list[str]]:
    """The console errors of one test: there must be none left when it ends."""
    console_log.clear()
    yield console_log
    assert console_log == [], f"console errors during the test: {console_log}"


def expect_refused_request(errors: list[str], status: int) -> None:
    """Take the one console line the browser logs for a request the server refused."""
    refused = [e for e in errors if f"status of {status}" in e]
    assert len(refused) == 1, errors
    errors.remove(refused[0])


@contextmanager
def lab_page(browser, lab: Lab, console_log: list[str]):
    """A page of the lab, loaded, with the runs panel open; console errors go to the log."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("console", lambda m: console_log.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: console_log.append(f"uncaught: {exc}"))
    page.goto(lab.url)
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mantik-runs-panel"]')
    expect(tab).to_be_visible(timeout=90_000)
    tab.click()
    expect(page.locator("#mantik-runs-panel")).to_be_visible()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="session")
def page(browser, lab: Lab, console_log: list[str]):
    """One lab page for the whole session."""
    with lab_page(browser, lab, console_log) as page:
        yield page
