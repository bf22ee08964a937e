"""The run store under damage, a newer version, a full disk and a stale status reply: each
is a clear error naming the file and what to do, and an ended run stays ended."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time

import pytest
from helpers import make_notebook
from slurm_fixtures import unavailable

from mantik_jupyter.errors import StoreError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService
from mantik_jupyter.states import RunState
from mantik_jupyter.store import Run, RunStore, now


@pytest.fixture
def tracked(home, mlflow_uri, monkeypatch):
    """A fresh home tracking to the shared MLflow store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return home


def test_a_stale_status_never_overwrites_an_ended_run(tracked, tmp_path):
    nb = make_notebook(tmp_path / "nb.ipynb", None, "import time\ntime.sleep(20)")
    service = RunService()
    stale = service.submit(SubmitRequest(str(nb)))  # QUEUED, as this process read it
    deadline = time.monotonic() + 120
    while service.backend("local").status([stale])[stale.id].state != RunState.RUNNING:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    # another process (a CLI cancel) ended the run after this one read it as QUEUED
    RunStore(tracked / "runs.db").update(stale.id, state="CANCELLED", ended_at=now(),
                                         reason="cancelled from the CLI")
    service.sync([stale])  # the site's RUNNING arrives against the stale QUEUED
    run = service.get(stale.id)
    assert (run.state, run.reason) == ("CANCELLED", "cancelled from the CLI")


def test_a_damaged_or_newer_store_is_named_with_what_to_do(tmp_path):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(StoreError) as err:
        RunStore(damaged)
    assert err.value.status == 503
    assert err.value.message.startswith(f"the run store {damaged} is damaged (file is not a "
                                        f"database): move it aside (mv {damaged} ")

    newer = tmp_path / "newer.db"
    RunStore(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=rf"the run store {newer} was written by a newer "
                                         r"mantik-jupyter \(schema 99; this one knows up to "
                                         r"\d+\): upgrade mantik-jupyter"):
        RunStore(newer)


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs as the mantik home (mounting needs root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        unavailable("mounting a tmpfs needs root", "root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        unavailable(f"cannot mount a tmpfs: {proc.stderr.strip()}", "mount")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_named_and_loses_nothing(full_disk, mlflow_uri, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    home = full_disk / "home"
    service = RunService(home)
    store = RunStore(home / "runs.db")
    store.insert(Run(id="earlier00001", name="earlier", site="local", notebook=str(tmp_path)))
    nb = make_notebook(tmp_path / "p" / "nb.ipynb", None, "print(1)")
    filler = os.open(full_disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:  # the rest of the disk
        while os.write(filler, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(filler)
    with pytest.raises(StoreError) as err:
        service.submit(SubmitRequest(str(nb), name="on a full disk"))
    assert err.value.message.startswith("no space left on the disk holding ") and \
        str(full_disk) in err.value.message, err.value.message
    with pytest.raises(StoreError, match=f"no space left on the disk holding the run store "
                                         f"{home / 'runs.db'}: free some space and retry"):
        service.rename("earlier00001", "renamed")
    assert [r.name for r in service.list()] == ["earlier"]  # nothing half-written
    assert not list((home / "staging").glob("*"))
    (full_disk / "filler").unlink()
    run = service.submit(SubmitRequest(str(nb), name="after freeing space"))
    assert store.get(run.id).name == "after freeing space"


@pytest.fixture
def server_home(tmp_path):
    """The server's home holds a damaged run store before the server starts."""
    home = tmp_path / "mantik-home"
    home.mkdir()
    (home / "runs.db").write_bytes(b"this is not SQLite " * 100)
    return home


async def test_the_server_says_why_its_store_cannot_be_used(api, server_home):
    """The extension stays loaded and every route names the damaged file, not a 404."""
    for path in ("config", "runs"):
        body = json.loads((await api("GET", path, expect=503)).body)
        assert body["reason"] == "store_unavailable", body
        assert body["message"].startswith(f"the run store {server_home / 'runs.db'} is "
                                          "damaged"), body
