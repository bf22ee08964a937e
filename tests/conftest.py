"""Shared fixtures: an isolated mantik home, notebooks made on the fly, the CLI as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server", "slurm_fixtures")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mantik home for the slow end-to-end tests (one MLflow database to create)."""
    return tmp_path_factory.mktemp("mantik-home")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty mantik home for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("MANTIK_JUPYTER_HOME", str(path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return path


class Cli:
    """Runs ``mantik-jupyter`` as a separate process, the way a user does."""

    def __init__(self, home: Path):
        self.env = {**os.environ, "MANTIK_JUPYTER_HOME": str(home)}
        self.env.pop("MLFLOW_TRACKING_URI", None)

    def __call__(self, *args: str, check: bool = True, timeout: float = 300):
        proc = subprocess.run(
            [sys.executable, "-m", "mantik_jupyter.cli", *args], env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"mantik-jupyter {' '.join(args)} failed ({proc.returncode}):"
                                 f"\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str, check: bool = True) -> dict | list:
        return json.loads(self(*args, "--json", check=check).stdout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "mantik_jupyter.cli", *args],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def cli(session_home: Path) -> Cli:
    return Cli(session_home)


@pytest.fixture(autouse=True)
def no_stale_login_lock() -> None:
    """Work around this machine's root login shell: it runs ``pyenv rehash``, whose lock file
    stays behind when a job is killed mid-rehash, and every later job's ``bash -l`` then
    waits 60 s for it. A live rehash holds the lock for milliseconds."""
    lock = Path.home() / ".pyenv" / "shims" / ".pyenv-shim"
    try:
        if time.time() - lock.stat().st_mtime > 10:
            lock.unlink()
    except FileNotFoundError:
        pass
