"""The run store: migrations, atomic updates, filters and keyset pagination."""

from __future__ import annotations

import json
import sqlite3

import pytest

from mantik_jupyter.errors import ConfigError, MantikError, NotFoundError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.runfilter import RunFilter, cursor_of
from mantik_jupyter.store import ALL, MIGRATIONS, Run, RunStore


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


def test_migration_2_gives_old_runs_their_request_and_output_notebook(tmp_path):
    """A store of the first schema keeps its runs, which can be re-run from then on."""
    old = sqlite3.connect(tmp_path / "runs.db")
    old.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    old.execute("INSERT INTO runs (id, name, site, notebook, state, parameters, spec, "
                "created_at, updated_at, parent_id) VALUES ('r1', 'n', 'hpc', "
                "'/home/u/work/train.ipynb', 'COMPLETED', '{\"lr\": 0.5}', "
                "'{\"Site\": \"hpc\", \"Parameters\": {\"lr\": 0.5}}', 'c', 'u', 'r0')")
    old.commit()
    old.close()
    run = RunStore(tmp_path / "runs.db").get("r1")
    assert run.output_notebook == "mantik-output/train.ipynb"
    assert SubmitRequest.from_json(run.request) == SubmitRequest(
        notebook="/home/u/work/train.ipynb", site="hpc",
        config={"Site": "hpc", "Parameters": {"lr": 0.5}}, parameters={"lr": 0.5},
        parent_id="r0")
    assert "request" not in run.to_dict() and run.to_dict()["output_notebook"] == \
        "mantik-output/train.ipynb"


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
    page1 = store.list(RunFilter(limit=10))
    assert [r.id for r in page1] == [f"r{i:02d}" for i in range(24, 14, -1)]
    page2 = store.list(RunFilter(limit=10, cursor=cursor_of(page1[-1].created_at, page1[-1].id)))
    assert [r.id for r in page2] == [f"r{i:02d}" for i in range(14, 4, -1)]
    oldest = store.list(RunFilter(limit=10, oldest_first=True))
    assert [r.id for r in oldest] == [f"r{i:02d}" for i in range(10)]
    after = RunFilter(limit=3, oldest_first=True,
                      cursor=cursor_of(oldest[-1].created_at, oldest[-1].id))
    assert [r.id for r in store.list(after)] == ["r10", "r11", "r12"]
    assert store.count(RunFilter(site="hpc")) == 13
    assert {r.state for r in store.list(RunFilter(states=("FAILED",)))} == {"FAILED"}
    assert [r.id for r in store.list(RunFilter(text="run 7"))] == ["r07"]
    assert store.count(RunFilter(notebook="/nb1.ipynb")) == 8
    page = json.loads(store.page_json(RunFilter(site="hpc", limit=10)))
    assert len(page["runs"]) == 10 and page["total"] == 13
    rest = json.loads(store.page_json(RunFilter(site="hpc", limit=10,
                                                cursor=page["next_cursor"])))
    assert [r["id"] for r in rest["runs"]] == ["r04", "r02", "r00"]
    assert rest["next_cursor"] is None


def test_filters_refuse_what_they_cannot_mean():
    with pytest.raises(ConfigError, match="unknown state 'finished'; allowed: SUBMITTING"):
        RunFilter.of(states=["finished"])
    assert RunFilter.of(states=["failed", ""], site="").where == {
        "states": ("FAILED",), "site": None, "notebook": None, "text": None, "points": True,
        "sweep": None}
    with pytest.raises(MantikError, match="cursor 'x' is not one this API returned"):
        RunFilter(cursor="x")
    with pytest.raises(MantikError, match="limit must be 1 or more"):
        RunFilter(limit=0)
    with pytest.raises(MantikError, match="sort must be created_at or -created_at"):
        RunFilter.of(sort="name")


def test_json_pages_match_the_runs_they_encode(tmp_path):
    """SQLite writes the REST API's run JSON: it must be exactly Run.to_dict(), plus members."""
    store = RunStore(tmp_path / "runs.db")
    full = Run(id="full", name="Grüße ✓ \"quoted\"", site="juwels", notebook="/root/ü/a.ipynb",
               state="FAILED", native_state="FAILED", reason="exit 3\nline two", exit_code=3,
               remote_job_id="123", work_dir="/p/x", parameters={"lr": 1e-07, "big": 2 ** 70,
                                                                   "tags": ["a", None, True]},
               spec={"Resources": {"Nodes": 2}, "Parameters": {"lr": 1e-07}},
               script="#!/bin/bash\n", bundle_hash="h", bytes_uploaded=10, mlflow_run_id="m",
               mlflow_experiment_id="1",
               started_at="s", ended_at="e", parent_id="p", created_at="2026-01-02")
    bare = Run(id="bare", name="b", site="local", notebook="/elsewhere/b.ipynb",
               created_at="2026-01-01")
    for run in (full, bare):
        store.insert(run)
    members = [("upper", "upper(site)", ()), ("tail", "substr(notebook, ?)", (7,))]
    page = json.loads(store.page_json(ALL, members))
    assert [r["id"] for r in page["runs"]] == ["full", "bare"]
    for encoded, run in zip(page["runs"], (full, bare), strict=True):
        stored = store.get(run.id).to_dict()
        assert encoded == {**stored, "upper": run.site.upper(), "tail": run.notebook[6:]}
        assert json.loads(store.get_json(run.id, members)) == encoded
    failed = json.loads(store.page_json(RunFilter(states=("FAILED",))))["runs"]
    assert [r["id"] for r in failed] == ["full"]
    with pytest.raises(NotFoundError):
        store.get_json("nope")


def test_numbers_json_cannot_carry_are_refused_with_the_field_named(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    with pytest.raises(ConfigError, match="parameters holds a NaN") as err:
        store.insert(Run(id="x", name="n", site="local", notebook="/a",
                         parameters={"lr": float("nan")}))
    assert err.value.key == "parameters"
    assert store.count() == 0


def test_counts_are_cached_until_any_connection_writes(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    other = RunStore(tmp_path / "runs.db")  # another process's view of the same file
    store.insert(Run(id="a", name="a", site="local", notebook="/a"))
    assert store.count() == 1 and store.count(RunFilter(site="local")) == 1
    store.insert(Run(id="b", name="b", site="local", notebook="/b"))  # our own write
    assert store.count() == 2 and store.count(RunFilter(site="local")) == 2
    other.insert(Run(id="c", name="c", site="hpc", notebook="/c"))  # theirs
    assert store.count() == 3 and store.count(RunFilter(site="local")) == 2
    assert store.count(RunFilter(site="hpc")) == 1
    other.delete("a")
    assert store.count() == 2 and store.count(RunFilter(site="local")) == 1
