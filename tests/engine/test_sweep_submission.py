"""A sweep's submission in two steps, as the server does it (recorded SUBMITTING at once,
the rest in the background), on the local site: a cancel before its arrays are queued, a
failure in the background, and a submitting process that died, settled by the next sync;
one that died after its array reached the simulator's Slurm unrecorded leaves nothing
running there."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

from helpers import make_notebook, wait_until

from mantik_jupyter.reconciling import INTERRUPTED
from mantik_jupyter.runfilter import RunFilter
from mantik_jupyter.service import RunService
from mantik_jupyter.sweeps import SweepRequest

#: the request that hands a job (here the sweep's array) to the simulator's Slurm
FIRECREST_SUBMIT = r"/compute/[^/]+/jobs/?$"


def slurm_jobs_named(name: str) -> list[str]:
    """The ids of the jobs (array tasks) Slurm still holds pending or running by that name."""
    return subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True,
                          text=True, check=True).stdout.split()


def test_a_sweep_recorded_submitting_is_cancelled_failed_or_recovered_cleanly(
        home, tmp_path, simulator):
    notebook = make_notebook(tmp_path / "nb.ipynb", "n: int = 1", "print(n)")
    home.mkdir()
    (home / "sim").symlink_to(simulator.config.root)  # where the sim presets find it
    service = RunService(home, submit_grace=0)
    request = SweepRequest.from_json({"notebook": str(notebook), "sweep_texts": ["n=1,2"]})

    cancelled = service.begin_submit(request)
    assert (cancelled.run.state, cancelled.run.native_state) == ("SUBMITTING", "2 points")
    assert service._submitter.cancel(cancelled.run.id)  # PATCH cancel, in this process
    ended = service.complete_submit(cancelled)
    assert (ended.state, ended.mlflow_run_id) == ("CANCELLED", None)
    assert service.points(ended.id) == []

    interrupted = service.begin_submit(request)
    service.sync()  # its lock is held: a live process is submitting it
    assert service.get(interrupted.run.id).state == "SUBMITTING"
    interrupted.lock.release()  # as the OS does when the submitting process dies
    service.sync()
    failed = service.get(interrupted.run.id)
    assert (failed.state, failed.reason) == ("FAILED", INTERRUPTED) and failed.ended_at

    # a submitter killed once its array is on Slurm, while the site holds the reply back
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    simulator.set_faults([{"route": FIRECREST_SUBMIT, "methods": ["POST"],
                           "reply_latency": 300}])
    try:
        submitter = subprocess.Popen(
            [sys.executable, "-m", "mantik_jupyter.cli", "submit", str(notebook), "--site",
             "sim-firecrest", "--sweep", "n=1,2", "--at", tomorrow],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        orphan = wait_until(lambda: next((r for r in service.list(RunFilter(points=False))
                                          if r.site == "sim-firecrest"), None), "the sweep")
        array = f"mantik-{orphan.id}-0"
        wait_until(lambda: slurm_jobs_named(array), "the sweep's array on Slurm", timeout=240)
        submitter.kill()
        submitter.communicate()
    finally:
        simulator.set_faults([])
    assert [p.state for p in service.points(orphan.id)] == ["SUBMITTING"] * 2  # unrecorded
    service.sync()
    ended = service.get(orphan.id)
    assert ended.state == "FAILED" and f"job array {array} reached the site" in ended.reason
    assert "it was cancelled there" in ended.reason, ended.reason
    assert [(p.state, array in p.reason) for p in service.points(orphan.id)] == [
        ("FAILED", True)] * 2
    assert slurm_jobs_named(array) == []  # no task of the sweep left on the site

    broken = service.begin_submit(request)
    notebook.unlink()  # staging it in the background fails
    ended = service.complete_submit(broken)
    assert ended.state == "FAILED" and "nb.ipynb" in ended.reason, ended.reason
    assert ended.mlflow_run_id is None and service.points(ended.id) == []
    service.close()
