"""A site that keeps failing while an ended run's results are fetched: the run says why it
waits and when it is tried again, the site is asked again only then (the wait doubling),
a file fetched by an earlier attempt is not fetched again, and once the site answers the
results reach MLflow. The finalizer's clock is the test's, so no test waits the backoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from helpers import make_notebook
from mlflow.tracking import MlflowClient

from mantik_jupyter.backoff import Backoff
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService

SITE = "sim-unicore"
LOG_ROUTE = r"/files/mantik-job\.log$"  # the job log: refused while the site is "down"
NOTEBOOK_ROUTE = r"/files/mantik-output/"  # the executed notebook: only counted


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.time = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += timedelta(seconds=seconds)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.timeout(600)
def test_a_failing_site_is_retried_with_growing_waits_and_nothing_fetched_twice(
        sim_home, process_simulator, mlflow_uri, tmp_path):
    sim, home = process_simulator, sim_home
    clock = Clock()
    service = RunService(home, finalize_retries=Backoff(first=60, longest=100, clock=clock))
    nb = make_notebook(tmp_path / "p" / "nb.ipynb", None, "print('done', flush=True)")
    sim.set_faults([{"route": LOG_ROUTE, "methods": ["GET"], "error_rate": 1.0},
                    {"route": NOTEBOOK_ROUTE, "methods": ["GET"]}])
    try:
        run = service.wait(service.submit(SubmitRequest(str(nb), site=SITE)).id, timeout=300)
        assert run.state == "COMPLETED", (run.state, run.reason)

        def requests() -> tuple[int, int]:  # (log, notebook) requests the site received
            return tuple(sim.faults["matched"])

        waiting = service.run_record(run.id)["finalizing"]  # the sync that saw it end
        assert waiting["attempts"] == 1, waiting
        assert waiting["error"].startswith(f"site {SITE!r}: "), waiting  # who failed, how
        assert waiting["error"].endswith("failed after 8 attempts: Injected server error")
        assert at(waiting["retry_at"]) == clock.time + timedelta(seconds=60)
        first_try, fetched_notebook = requests()
        assert first_try >= 1 and fetched_notebook >= 1

        for _ in range(3):  # polls before the retry is due ask the site nothing
            service.sync()
        assert requests() == (first_try, fetched_notebook)

        clock.advance(60)
        service.sync()  # due: tried again, failing again, the wait doubled
        waiting = service.run_record(run.id)["finalizing"]
        assert waiting["attempts"] == 2
        assert at(waiting["retry_at"]) == clock.time + timedelta(seconds=100)  # at most 100
        assert requests() == (2 * first_try, fetched_notebook)  # the notebook: not again

        clock.advance(99)
        service.sync()
        assert requests() == (2 * first_try, fetched_notebook)

        sim.set_faults([])  # the site is back
        clock.advance(1)
        service.sync()
    finally:
        sim.set_faults([])
    record = service.run_record(run.id)
    assert record["finalizing"] is None, record
    results = home / "results" / run.id
    assert sorted(p.name for p in results.iterdir()) == ["mantik-job.log", "nb.ipynb"]
    assert b"done" in (results / "mantik-job.log").read_bytes()
    tracked = MlflowClient(mlflow_uri).get_run(run.mlflow_run_id)
    assert tracked.info.status == "FINISHED"
    artifacts = {a.path for a in MlflowClient(mlflow_uri).list_artifacts(
        run.mlflow_run_id, "mantik")}
    assert artifacts == {"mantik/mantik-job.log", "mantik/nb.ipynb"}, artifacts
