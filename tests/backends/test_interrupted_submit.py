"""A submitting process killed mid-submit loses no run: a later service, or the server's
poller, adopts the job the site accepted, or fails the run if no job got there; never a
second job. The submitter is a real ``mantik-jupyter submit`` process, SIGKILLed at a
point the simulator's injected faults hold it at."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import SITES, make_notebook, wait_until
from mlflow.tracking import MlflowClient

from mantik_jupyter.errors import NotFoundError
from mantik_jupyter.reconciling import INTERRUPTED
from mantik_jupyter.runfilter import RunFilter
from mantik_jupyter.server.poller import RunPoller
from mantik_jupyter.service import RunService
from mantik_jupyter.states import RunState
from mantik_jupyter.store import Run

#: the request that hands the job to the batch system, per site
START_ROUTE = {"sim-unicore": r"/rest/core/jobs/[^/]+/actions/start$",
               "sim-firecrest": r"/compute/[^/]+/jobs/?$"}


def submitting_run(service: RunService, nb: Path) -> Run:
    """The run the killed-to-be process is submitting (its record exists once MLflow has it)."""
    def found() -> Run | None:
        runs = service.list(RunFilter(notebook=str(nb)))
        return runs[0] if runs and runs[0].mlflow_run_id else None

    run = wait_until(found, "the run's record")
    assert run.state == "SUBMITTING"
    return run


def site_jobs(sim, run_id: str) -> list[dict]:
    return [j for j in sim.jobs() if j["name"] == f"mantik-{run_id}"]


@pytest.mark.parametrize(("site", "follower"), [("sim-unicore", "service"),
                                                ("sim-firecrest", "poller")])
def test_a_job_accepted_before_the_submitter_died_is_adopted_and_tracked(
        cli, session_home, sim, tmp_path, monkeypatch, site, follower):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = make_notebook(tmp_path / "adopt.ipynb", "lr: float = 0.1",
                       "import mlflow\nwith mlflow.start_run():\n"
                       "    mlflow.log_metric('score', lr * 10)")
    # The site does the work and holds the answer back: the job is on Slurm, the submitter
    # still waits for its id.
    sim.set_faults([{"route": START_ROUTE[site], "methods": ["POST"], "reply_latency": 300}])
    submitter = cli.popen("submit", str(nb), "--site", site, "-p", "lr=0.3")
    service = RunService(home=session_home, submit_grace=0)
    run = submitting_run(service, nb)
    wait_until(lambda: any(j["nativeId"] for j in site_jobs(sim, run.id)), "the job on Slurm")

    service.sync()  # a live submitter's run is left alone, grace period or not
    assert service.get(run.id).state == "SUBMITTING"

    submitter.kill()
    submitter.communicate()
    sim.set_faults([])
    assert service.get(run.id).state == "SUBMITTING"  # died before it learnt the id

    if follower == "service":  # what the CLI and the magics do
        final = service.wait(run.id, interval=0.3, timeout=240)
    else:  # what the server does from its start on: its poller's loop
        events: list[dict] = []

        async def poll_to_the_end() -> None:
            with ThreadPoolExecutor(1) as executor:
                poller = RunPoller(RunService(home=session_home, submit_grace=0), executor,
                                   events.append, min_interval=0.2, max_interval=1.0)
                poller.start()
                deadline = time.monotonic() + 240
                while not any(e["run_id"] == run.id and RunState(e["new_state"]).terminal
                              for e in events):  # until the server announced its end
                    assert time.monotonic() < deadline, "the adopted run never ended"
                    await asyncio.sleep(0.2)
                await poller.stop()

        asyncio.run(poll_to_the_end())
        states = [e["new_state"] for e in events if e["run_id"] == run.id]
        assert states[0] != "SUBMITTING" and states[-1] == "COMPLETED", states
        final = service.get(run.id)

    assert final.state == "COMPLETED", final
    assert final.remote_job_id and final.work_dir and "papermill" in final.script
    assert len(site_jobs(sim, run.id)) == 1  # adopted, never submitted again
    assert not (session_home / "staging" / run.id).exists()
    tracked = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}").get_run(
        final.mlflow_run_id)
    assert tracked.info.status == "FINISHED"
    assert tracked.data.metrics["score"] == pytest.approx(3.0)


@pytest.mark.parametrize("site", SITES)
def test_a_submitter_dead_before_any_job_reached_the_site_leaves_a_failed_run(
        cli, session_home, sim, tmp_path, monkeypatch, site):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = make_notebook(tmp_path / "lost.ipynb", None, "print('never runs')")
    refused = sim.faults["injected"]["error"]
    # The site refuses to start the job, so the submitter retries until it is killed.
    sim.set_faults([{"route": START_ROUTE[site], "methods": ["POST"], "error_rate": 1.0}])
    submitter = cli.popen("submit", str(nb), "--site", site)
    service = RunService(home=session_home, submit_grace=0)
    run = submitting_run(service, nb)
    wait_until(lambda: sim.faults["injected"]["error"] > refused, "a refused start")
    submitter.kill()
    submitter.communicate()
    sim.set_faults([])

    RunService(home=session_home, submit_grace=3600).sync()  # within the grace period
    assert service.get(run.id).state == "SUBMITTING"

    service.sync()
    failed = service.get(run.id)
    assert failed.state == "FAILED" and failed.reason == INTERRUPTED, failed
    assert failed.ended_at and not failed.remote_job_id
    assert site_jobs(sim, run.id) == []  # UNICORE's created, never started job is gone too
    if site == "sim-firecrest":  # and so is the run directory the attempt uploaded into
        backend = service.backend(site)
        with pytest.raises(NotFoundError):
            backend.list_files(replace(failed, work_dir=backend.workspace(run.id)))
    assert not list((session_home / "staging").glob(f"{run.id}*"))
    tracked = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}").get_run(
        failed.mlflow_run_id)
    assert tracked.info.status == "FAILED"
