"""What a status poll and a log poll cost at the gateway, counted where the gateway logs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from helpers import SITES, make_notebook

from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService
from mantik_jupyter.sim.server import GatewayRequests
from mantik_jupyter.tracking import Tracker


def logged_so_far(requests: GatewayRequests, sim) -> None:
    """Wait until every request answered so far is in ``requests``: tornado logs each one on
    the simulator's one event-loop thread as its reply ends, so a marker request logged
    after them proves they are all there (the marker is then dropped)."""
    marker = f"/_sim/logged-{time.time_ns()}"
    httpx.get(sim.url + marker)
    deadline = time.monotonic() + 60
    while marker not in requests.paths:
        assert time.monotonic() < deadline, "the simulator's access log stopped"
        time.sleep(0.05)
    requests.paths.remove(marker)


@pytest.fixture
def requests() -> Iterator[GatewayRequests]:
    with GatewayRequests() as seen:
        yield seen


def test_one_status_request_per_firecrest_poll_and_at_most_one_per_unicore_run(
        sim, session_home, tmp_path, requests):
    service = RunService(session_home, tracker=Tracker(
        session_home, f"sqlite:///{session_home / 'mlflow.db'}"))
    nb = make_notebook(tmp_path / "idle.ipynb", None, "print(1)")
    # the jobs outlive the test however slowly they start (the test cancels them)
    config = {"Environment": {"PreRunCommandOnComputeNode": "echo waiting; sleep 900"}}
    runs = [service.submit(SubmitRequest(str(nb), site=site, config=config))
            for site in SITES for _ in range(3)]
    try:
        for run in runs:
            deadline = time.monotonic() + 300
            while b"waiting" not in service.logs(run.id).data:
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.5)
        service.sync(runs)  # reads are pure: the states come home with a sync
        time.sleep(1.1)  # past the UNICORE backend's shortest poll interval
        current = [service.get(run.id) for run in runs]
        assert {run.state for run in current} == {"RUNNING"}
        logged_so_far(requests, sim)
        requests.paths.clear()
        assert service.sync(current) == []  # all of them still running
        logged_so_far(requests, sim)
        assert requests.count("/firecrest/") == 1  # every run of the site in one request
        assert 1 <= requests.count("/DEMO-SITE/") <= 3  # one per active run at most

        for run in (runs[0], runs[3]):
            whole = service.logs(run.id).data
            logged_so_far(requests, sim)
            requests.paths.clear()
            assert service.backend(run.site).read_log(run, len(whole)) == b""
            logged_so_far(requests, sim)
            assert len(requests.paths) == 1  # one request for "nothing new"
    finally:
        for run in runs:
            service.cancel(run.id)
