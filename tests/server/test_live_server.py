"""A real jupyter server process: restarts lose no run, and the API holds up to fuzzing."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from helpers import make_notebook
from live_server import LiveServer
from openapi_check import SPEC_PATH

SLOW = "import time\nfor i in range({n}):\n    print(f'line {{i}}', flush=True)\n" \
       "    time.sleep({pause})"


def wait_state(server: LiveServer, run_id: str, states: set[str], timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = server.request("GET", f"runs/{run_id}").json()
        if run["state"] in states:
            return run
        assert time.monotonic() < deadline, f"run stayed {run['state']}"
        time.sleep(0.3)


@pytest.fixture
def server(tmp_path, mlflow_uri):
    live = LiveServer(tmp_path / "root", tmp_path / "home", mlflow_uri).start()
    yield live
    live.stop()


def test_restart_while_runs_are_active_loses_no_run(server):
    make_notebook(server.root / "slow.ipynb", "n: int = 10", SLOW.format(n="n", pause=0.5))
    ids = []
    for n in (12, 14):
        response = server.request("POST", "runs", json={"notebook": "slow.ipynb",
                                                        "parameters": {"n": n}})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    wait_state(server, ids[0], {"RUNNING"})
    wait_state(server, ids[1], {"QUEUED", "RUNNING"})  # both submitted, in the background
    server.stop()  # the jobs go on without the server
    time.sleep(1)
    server.start()
    assert {r["id"] for r in server.request("GET", "runs").json()["runs"]} == set(ids)
    for run_id in ids:
        run = wait_state(server, run_id, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
        assert run["state"] == "COMPLETED", run
        assert "line 11" in server.request("GET", f"runs/{run_id}/logs").json()["data"]


def test_fuzzing_the_openapi_file_finds_no_5xx_and_no_spec_violation(server):
    make_notebook(server.root / "p.ipynb", "n: int = 1", "print(n)")
    proc = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", str(SPEC_PATH),
         "--url", server.api.rstrip("/"), "--header", f"Authorization: token {server.token}",
         "--max-examples", "15", "--seed", "1", "--phases", "examples,coverage,fuzzing",
         "--checks", "not_a_server_error,response_schema_conformance,"
                     "status_code_conformance,content_type_conformance",
         "--suppress-health-check", "all"],
        capture_output=True, text=True, timeout=600, cwd=server.home.parent,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "No issues found" in proc.stdout or "passed" in proc.stdout.lower(), proc.stdout[-3000:]
