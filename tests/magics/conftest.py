"""Magics fixtures: one MLflow store for all the magics tests (creating one costs seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tracking_uri(session_home: Path) -> str:
    return f"sqlite:///{session_home / 'magics-mlflow.db'}"


@pytest.fixture
def home(home: Path, monkeypatch: pytest.MonkeyPatch, tracking_uri: str) -> Path:
    """The fresh mantik home, with this process (and papermill's kernels) on the shared store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    return home
