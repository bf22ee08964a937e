"""A sweep's submission in two steps, as the server does it (recorded SUBMITTING at once,
the rest in the background), on the local site: a cancel before its arrays are queued, a
failure in the background, and a submitting process that died, settled by the next sync."""

from __future__ import annotations

from helpers import make_notebook

from mantik_jupyter.reconciling import INTERRUPTED
from mantik_jupyter.service import RunService
from mantik_jupyter.sweeps import SweepRequest


def test_a_sweep_recorded_submitting_is_cancelled_failed_or_recovered_cleanly(home, tmp_path):
    notebook = make_notebook(tmp_path / "nb.ipynb", "n: int = 1", "print(n)")
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

    broken = service.begin_submit(request)
    notebook.unlink()  # staging it in the background fails
    ended = service.complete_submit(broken)
    assert ended.state == "FAILED" and "nb.ipynb" in ended.reason, ended.reason
    assert ended.mlflow_run_id is None and service.points(ended.id) == []
    service.close()
