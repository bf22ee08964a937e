"""REST API figures: GET runs?limit=50 over 10,000 runs, first and deep page, against
Jupyter's own /api/status in the same server (the floor any route pays).

The client is one keep-alive ``http.client`` connection, so the figures are the server's
latency rather than a client library's overhead (requests adds ~1 ms per call)."""

from __future__ import annotations

import http.client
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import figure
from mantik_jupyter.backends.slurm_jobs import directives
from mantik_jupyter.jobscript import render
from mantik_jupyter.processes import ManagedProcess, free_port
from mantik_jupyter.spec import RunSpec
from mantik_jupyter.states import RunState
from mantik_jupyter.store import Run, RunStore

RUNS = 10_000
SAMPLES = 1000
PAPERMILL = ("papermill train.ipynb mantik-output/train.ipynb -f mantik-parameters.yaml --cwd ."
             " --kernel python3")
WARM_UP = 200


def fill(home: Path) -> None:
    """10,000 runs over 4 sites, 3 notebooks and every terminal state, each as full as a real
    one: config, parameters, the job script, remote job, MLflow ids (~1.3 KB of JSON)."""
    home.mkdir(parents=True, exist_ok=True)
    store = RunStore(home / "runs.db")
    config = {
        "Resources": {"Queue": "booster", "Nodes": 2, "GPUsPerNode": 4, "Runtime": "2h",
                      "MemoryPerNode": "64G", "Project": "climate-ml"},
        "Environment": {"Modules": ["Stages/2026", "GCC", "Python"],
                        "Variables": {"OMP_NUM_THREADS": "8"}, "Python": "/p/project/venv"},
        "Parameters": {"learning_rate": 0.001, "epochs": 20},
    }
    spec = RunSpec.from_config(config)
    states = [s.value for s in RunState if s.terminal]
    for i in range(RUNS):
        run_id = f"{i:012x}"
        day, time_of_day = f"2026-01-{1 + i // 1000:02d}", f"{(i // 60) % 24:02d}:{i % 60:02d}"
        store.insert(Run(
            id=run_id, name=f"run {i}", site=f"site{i % 4}", notebook=f"/nb/{i % 3}.ipynb",
            state=states[i % 4], native_state=states[i % 4], exit_code=i % 4,
            remote_job_id=str(100000 + i), work_dir=f"/p/scratch/climate-ml/mantik/{run_id}",
            parameters={"learning_rate": 0.001 * (1 + i % 10), "epochs": 20}, spec=config,
            script=render(spec, PAPERMILL, directives=directives(spec, run_id)),
            bundle_hash=f"{i:064x}", bytes_uploaded=48213, mlflow_run_id=f"{i:032x}",
            mlflow_experiment_id="1", created_at=f"{day}T{time_of_day}:00.{i:06d}",
            started_at=f"{day}T{time_of_day}:05", ended_at=f"{day}T{time_of_day}:50",
        ))
    store.close()


class Client:
    """GET over one kept-alive connection, authenticated with the server's token."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"token {token}"}

    def get(self, path: str) -> bytes:
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return body

    def latencies(self, path: str) -> list[float]:
        """Seconds per request over SAMPLES requests, after WARM_UP unmeasured ones."""
        for _ in range(WARM_UP):
            self.get(path)
        times = []
        for _ in range(SAMPLES):
            start = time.perf_counter()
            self.get(path)
            times.append(time.perf_counter() - start)
        return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def report(name: str, times: list[float], floor: list[float]) -> None:
    figure(f"{name}: median", statistics.median(times) * 1000, "ms")
    figure(f"{name}: p95", p95(times) * 1000, "ms",
           f"{p95(times) / p95(floor):.1f}x /api/status p95")


@contextmanager
def serving(home: Path, tmp: str, *options: str) -> Iterator[Client]:
    """A jupyter server with the extension over ``home`` (and ``options``), and a client."""
    port, token = free_port(), secrets.token_hex(8)
    server = ManagedProcess(
        "jupyter server",
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}",
         f"--MantikJupyter.home={home}", "--ServerApp.log_level=WARN", *options],
        Path(tmp) / f"server-{port}.log", env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/m.db"},
    ).start()
    try:
        server.wait_until(f"http://127.0.0.1:{port}/api/status", 60,
                          {"Authorization": f"token {token}"})
        yield Client(port, token)
    finally:
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fill(home)
        with serving(home, tmp, "--MantikJupyter.mlflow_ui_url=http://mlflow.test") as client:
            api = "/mantik/api/runs?limit=50"
            cursor = None
            for _ in range(RUNS // 50 - 1):  # walk to the last page for a deep cursor
                page = json.loads(client.get(api + (f"&cursor={cursor}" if cursor else "")))
                cursor = page["next_cursor"]
            floor = client.latencies("/api/status")
            figure("GET /api/status (jupyter's own, the floor): p95", p95(floor) * 1000, "ms")
            report("GET runs?limit=50 of 10,000, first page", client.latencies(api), floor)
            report("GET runs?limit=50 of 10,000, last page (cursor)",
                   client.latencies(f"{api}&cursor={cursor}"), floor)
            report("GET runs?limit=50&state=FAILED&site=site1",
                   client.latencies(api + "&state=FAILED&site=site1"), floor)
            report("GET runs?limit=50&text=run%2099 (substring, not indexed)",
                   client.latencies(api + "&text=run%2099"), floor)


if __name__ == "__main__":
    main()
