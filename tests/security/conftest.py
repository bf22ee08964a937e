"""The attack corpus shares the server tests' fixtures (a jupyter server with the extension,
its own home, one MLflow store, every response checked against the OpenAPI spec)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SERVER_TESTS = Path(__file__).resolve().parent.parent / "server"
sys.path.insert(0, str(SERVER_TESTS))  # openapi_check, imported by the server conftest
_spec = importlib.util.spec_from_file_location("server_conftest", SERVER_TESTS / "conftest.py")
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)

api = _server.api
jp_server_config = _server.jp_server_config
server_home = _server.server_home
mlflow_uri = _server.mlflow_uri


@pytest.fixture
def sim_home(home: Path, process_simulator, mlflow_uri: str,
             monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh mantik home whose sim presets reach the shared process simulator, tracking
    to the shared MLflow store."""
    home.mkdir(parents=True)
    (home / "sim").symlink_to(process_simulator.config.root)  # where the sim presets look
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return home
