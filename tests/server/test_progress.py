"""Submissions answer at once and show their progress: a folder with a 60 MB file goes to the
simulator's UNICORE and FirecREST over a slow link (a bandwidth fault), through the REST
API of a real jupyter server; a cancel from another process (the server's of the CLI's
upload, the CLI's of the server's) stops the upload."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time

import pytest
from helpers import make_notebook

from mantik_jupyter.server.app import PROGRESS_SCHEMA_ID
from mantik_jupyter.service import RunService
from mantik_jupyter.sim.faults import FaultRule

BIG = 60 << 20
#: the simulator reads uploads at 15 MB/s: 60 MB take about four seconds
SLOW_LINK = FaultRule(route=r"/files/[0-9a-f]{64}$|^/s3/", methods=["PUT"],
                      bandwidth=15 << 20)


async def poll_progress(api, run_id: str, until: set[str], timeout: float = 300
                        ) -> tuple[list[dict], dict]:
    """The run's ``progress`` as polled until it reaches one of ``until``; and the run."""
    seen, deadline = [], time.monotonic() + timeout
    while True:
        run = await api.json("GET", f"runs/{run_id}")
        if run["state"] in until:
            return seen, run
        if run["progress"]:
            seen.append(run["progress"])
        assert time.monotonic() < deadline, f"run stayed {run['state']}: {run['progress']}"
        await asyncio.sleep(0.1)


async def uploaded_some(api, run_id: str | None) -> dict:
    """The run (without an id: the one SUBMITTING) once it has uploaded some bytes."""
    deadline = time.monotonic() + 300
    while True:
        if run_id is None:
            runs = (await api.json("GET", "runs", params={"state": "SUBMITTING"}))["runs"]
            run = runs[0] if runs else {}
        else:
            run = await api.json("GET", f"runs/{run_id}")
        progress = run.get("progress") or {}
        if progress.get("phase") == "uploading" and progress.get("bytes_done"):
            return run
        assert run.get("state", "SUBMITTING") == "SUBMITTING", run
        assert time.monotonic() < deadline, f"no upload seen: {run}"
        await asyncio.sleep(0.05)


async def mantik(home, *args: str) -> asyncio.subprocess.Process:
    """``mantik-jupyter ARGS`` as a process of its own on the server's home."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mantik_jupyter.cli", *args,
        env={**os.environ, "MANTIK_JUPYTER_HOME": str(home)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


@pytest.mark.parametrize("site", ["sim-unicore", "sim-firecrest"])
async def test_upload_progress_and_cancel_during_upload(site, sim_home, api, jp_serverapp,
                                                        jp_root_dir, server_home):
    folder = jp_root_dir / "big"
    make_notebook(folder / "train.ipynb", None, "import os\n"
                  "print('data', os.path.getsize('data.bin'), flush=True)")
    data = hashlib.sha256(site.encode()).digest() * (BIG // 32)  # its own blob per site
    (folder / "data.bin").write_bytes(data)
    blob = hashlib.sha256(data).hexdigest()
    events: list[dict] = []

    async def listener(logger, schema_id, data):
        events.append({**data, "seen": time.monotonic()})

    jp_serverapp.event_logger.add_listener(schema_id=PROGRESS_SCHEMA_ID, listener=listener)
    sim_home.site.faults.replace([SLOW_LINK])
    try:
        # cancelled while uploading, from another process: nothing reaches the site
        if site == "sim-unicore":  # the CLI uploads, the server cancels
            submitter = await mantik(server_home, "submit", str(folder / "train.ipynb"),
                                     "--site", site)
            run = await uploaded_some(api, None)
            cancelled = await api.json("PATCH", f"runs/{run['id']}", {"action": "cancel"})
            out, err = await submitter.communicate()
            assert submitter.returncode == 0 and out.decode().split() == [run["id"]], err
        else:  # the server uploads, the CLI cancels
            started = time.monotonic()
            run = await api.json("POST", "runs", {"notebook": "big/train.ipynb", "site": site},
                                 expect=201)
            assert time.monotonic() - started < 2 and run["state"] == "SUBMITTING"
            run = await uploaded_some(api, run["id"])
            canceller = await mantik(server_home, "cancel", run["id"])
            out, err = await canceller.communicate()
            assert out.decode().split() == [run["id"], "CANCELLED"], err.decode()
            cancelled = await api.json("GET", f"runs/{run['id']}")
        assert cancelled["state"] == "CANCELLED" and cancelled["progress"] is None
        assert not list(server_home.glob("staging/*.cancel"))  # the request went with it
        assert cancelled["remote_job_id"] is None and cancelled["mlflow_run_id"] is None
        engine = RunService(home=server_home)
        try:
            backend = engine.backend(site)
            assert backend.find(engine.get(run["id"])) is None
            assert blob not in backend.cached()  # the cut upload left no blob either
        finally:
            engine.close()

        # the same folder again: answered at once, uploaded bytes rise to the total
        started = time.monotonic()
        run = await api.json("POST", "runs", {"notebook": "big/train.ipynb", "site": site},
                             expect=201)
        assert time.monotonic() - started < 2 and run["state"] == "SUBMITTING"
        polled, queued = await poll_progress(api, run["id"], {"QUEUED", "RUNNING",
                                                              "COMPLETED", "FAILED"})
    finally:
        sim_home.site.faults.replace([])
    assert queued["state"] != "FAILED", queued
    uploading = [p["bytes_done"] for p in polled if p["phase"] == "uploading"]
    assert len(set(uploading)) >= 3, polled  # seconds of upload, polled ten times a second
    assert uploading == sorted(uploading) and uploading[-1] <= BIG + (1 << 20)
    mine = [e for e in events if e["run_id"] == run["id"]]
    phases = [e["phase"] for e in mine]
    assert phases[0] == "bundling" and phases[-1] == "submitting", phases
    sent = [e for e in mine if e["phase"] == "uploading"]
    assert [e["bytes_done"] for e in sent] == sorted(e["bytes_done"] for e in sent)
    assert sent[-1]["bytes_done"] == sent[-1]["bytes_total"] >= BIG
    assert sent[-1]["files_done"] == sent[-1]["files_total"] >= 1
    assert max(e["rate"] for e in sent) > 0
    took = sent[-1]["seen"] - sent[0]["seen"]
    assert len(sent) <= 4 * took + 4, "progress events come a few per second at most"
    done = await api.wait(run["id"], {"COMPLETED", "FAILED", "CANCELLED"}, timeout=300)
    assert done["state"] == "COMPLETED" and done["progress"] is None, done
    assert done["bytes_uploaded"] >= BIG
