"""The run store: migrations, atomic updates, filters and keyset pagination."""

from __future__ import annotations

import sqlite3

import pytest

from mantik_jupyter.errors import ConfigError, NotFoundError
from mantik_jupyter.store import MIGRATIONS, Run, RunStore


def test_schema_is_versioned_and_migrations_are_idempotent(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    assert store.schema_version == len(MIGRATIONS)
    store.insert(Run(id="abc", name="n", site="local", notebook="/nb.ipynb"))
    store.close()
    reopened = RunStore(tmp_path / "runs.db")
    assert reopened.get("abc").name == "n"
    mode = sqlite3.connect(tmp_path / "runs.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert (tmp_path / "runs.db").stat().st_mode & 0o077 == 0


def test_update_is_atomic_and_json_fields_round_trip(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.insert(Run(id="abc", name="n", site="local", notebook="/nb.ipynb",
                     parameters={"tag": "a b", "l": [1, 2]}))
    with pytest.raises(ValueError):
        store.update("abc", state="RUNNING", no_such_field=1)
    assert store.get("abc").state == "SUBMITTING"  # nothing of the failed update landed
    run = store.update("abc", state="RUNNING")
    assert run.state == "RUNNING"
    assert run.parameters == {"tag": "a b", "l": [1, 2]}
    with pytest.raises(NotFoundError):
        store.update("nope", state="RUNNING")


def test_prefix_lookup(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.insert(Run(id="abc123", name="a", site="local", notebook="/a"))
    store.insert(Run(id="abd456", name="b", site="local", notebook="/b"))
    assert store.get("abc").id == "abc123"
    with pytest.raises(ConfigError, match="ambiguous"):
        store.get("ab")
    with pytest.raises(NotFoundError):
        store.get("zz")
    with pytest.raises(NotFoundError):
        store.get("%")  # LIKE wildcards are taken literally


def test_filters_and_keyset_pages(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    for i in range(25):
        store.insert(Run(id=f"r{i:02d}", name=f"run {i}", site="local" if i % 2 else "hpc",
                         notebook=f"/nb{i % 3}.ipynb", state="COMPLETED" if i % 5 else "FAILED",
                         created_at=f"2026-01-01T00:00:{i:02d}"))
    page1 = store.list(limit=10)
    assert [r.id for r in page1] == [f"r{i:02d}" for i in range(24, 14, -1)]
    page2 = store.list(limit=10, after=(page1[-1].created_at, page1[-1].id))
    assert [r.id for r in page2] == [f"r{i:02d}" for i in range(14, 4, -1)]
    oldest = store.list(limit=10, oldest_first=True)
    assert [r.id for r in oldest] == [f"r{i:02d}" for i in range(10)]
    assert [r.id for r in store.list(limit=3, oldest_first=True,
                                     after=(oldest[-1].created_at, oldest[-1].id))] == [
        "r10", "r11", "r12"]
    assert store.count(site="hpc") == 13
    assert {r.state for r in store.list(states=["FAILED"])} == {"FAILED"}
    assert [r.id for r in store.list(text="run 7")] == ["r07"]
    assert store.count(notebook="/nb1.ipynb") == 8
