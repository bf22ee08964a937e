"""REST API figures: GET runs?limit=50 over 10,000 runs, first and deep page, against
Jupyter's own /api/status in the same server (the floor any route pays)."""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.common import figure
from mantik_jupyter.processes import ManagedProcess, free_port
from mantik_jupyter.store import Run, RunStore

RUNS = 10_000
SAMPLES = 300


def fill(home: Path) -> None:
    """10,000 runs over 4 sites, 3 notebooks and every terminal state."""
    home.mkdir(parents=True, exist_ok=True)
    store = RunStore(home / "runs.db")
    states = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]
    for i in range(RUNS):
        store.insert(Run(
            id=f"{i:012x}", name=f"run {i}", site=f"site{i % 4}", notebook=f"/nb/{i % 3}.ipynb",
            state=states[i % 4], created_at=f"2026-01-{1 + i // 1000:02d}T{(i // 60) % 24:02d}:"
                                            f"{i % 60:02d}:00.{i:06d}",
        ))
    store.close()


def latencies(session: requests.Session, url: str) -> list[float]:
    times = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        response = session.get(url, timeout=30)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def report(name: str, times: list[float], floor: list[float]) -> None:
    figure(f"{name}: median", statistics.median(times) * 1000, "ms")
    figure(f"{name}: p95", p95(times) * 1000, "ms",
           f"{p95(times) / p95(floor):.1f}x /api/status p95")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fill(home)
        port, token = free_port(), secrets.token_hex(8)
        server = ManagedProcess(
            "jupyter server",
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}",
             f"--MantikJupyter.home={home}", "--ServerApp.log_level=WARN"],
            Path(tmp) / "server.log", env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/m.db"},
        ).start()
        base = f"http://127.0.0.1:{port}/"
        headers = {"Authorization": f"token {token}"}
        try:
            server.wait_until(base + "api/status", 60, headers)
            session = requests.Session()
            session.headers.update(headers)
            api = base + "mantik/api/runs?limit=50"
            cursor = None
            for _ in range(RUNS // 50 - 1):  # walk to the last page for a deep cursor
                page = session.get(api + (f"&cursor={cursor}" if cursor else "")).json()
                cursor = page["next_cursor"]
            floor = latencies(session, base + "api/status")
            figure("GET /api/status (jupyter's own, the floor): p95", p95(floor) * 1000, "ms")
            report("GET runs?limit=50 of 10,000, first page", latencies(session, api), floor)
            report("GET runs?limit=50 of 10,000, last page (cursor)",
                   latencies(session, f"{api}&cursor={cursor}"), floor)
            report("GET runs?limit=50&state=FAILED&site=site1",
                   latencies(session, api + "&state=FAILED&site=site1"), floor)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
