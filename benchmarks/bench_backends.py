"""Gateway backend figures against the local site simulator (process executor):

- gateway requests per status poll cycle with 20 active runs on each backend;
- response bytes of one log poll when nothing new was written and when 1 KB was;
- upload bytes of an unchanged re-submission as a fraction of the bundle.

Requests are counted where the gateway logs them (tornado's access log); response bytes
where the clients receive them (httpx).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from benchmarks.common import figure
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.sim.server import GatewayRequests

SITES = ("sim-unicore", "sim-firecrest")
ACTIVE_RUNS = 20
POLLER_RUNS = 50  # per site, for the server poller's requests per minute
POLLER_SECONDS = 60
POLL_CYCLES = 10
FILES, FILE_SIZE = 100, 256 * 1024
WAITING = {"Environment": {"PreRunCommandOnComputeNode": "echo started; sleep 600"}}


@contextlib.contextmanager
def received_bytes() -> Iterator[list[int]]:
    """Body bytes of every response both clients receive (each goes through httpx's
    ``Client.send``; pyunicore's ``httpx.get``/``httpx.stream`` too)."""
    sizes: list[int] = []
    original_send = httpx.Client.send

    def send(self, request, **kwargs):
        response = original_send(self, request, **kwargs)
        response.read()
        sizes.append(len(response.content))
        return response

    httpx.Client.send = send
    try:
        yield sizes
    finally:
        httpx.Client.send = original_send


def notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print(1)"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def wait_started(service, runs) -> None:
    deadline = time.monotonic() + 300
    for run in runs:
        while b"started" not in service.logs(service.synced(run.id).id).data:
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run.id} did not start")
            time.sleep(0.3)


def poll_cost(service, requests: GatewayRequests, tmp: Path) -> None:
    nb = notebook(tmp / "idle" / "idle.ipynb")
    runs = {site: [service.submit(SubmitRequest(str(nb), site=site, config=WAITING))
                   for _ in range(ACTIVE_RUNS)] for site in SITES}
    for site, site_runs in runs.items():
        per_cycle = []
        for _ in range(POLL_CYCLES):
            requests.paths.clear()
            service.sync([service.get(r.id) for r in site_runs])
            time.sleep(0.1)  # the access log is written just after each reply
            per_cycle.append(requests.count(_prefix(site)))
            time.sleep(1.0)
        figure(f"{site}: gateway requests, first poll of {ACTIVE_RUNS} active runs",
               per_cycle[0], "requests")
        figure(f"{site}: gateway requests per poll, mean of {POLL_CYCLES} polls 1 s apart",
               sum(per_cycle) / len(per_cycle), "requests")
    log_cost(service, runs)
    for site_runs in runs.values():
        site_runs += [service.submit(SubmitRequest(str(nb), site=site_runs[0].site,
                                                   config=WAITING))
                      for _ in range(POLLER_RUNS - ACTIVE_RUNS)]
    poller_rate(service, requests)


def poller_rate(service, requests: GatewayRequests) -> None:
    """The server's own poller, left to its adaptive rhythm for a minute."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from mantik_jupyter.server.poller import RunPoller

    async def run() -> int:
        poller = RunPoller(service, ThreadPoolExecutor(2), emit=lambda change: None)
        poller.start()
        await asyncio.sleep(POLLER_SECONDS)
        await poller.stop()
        return poller.polls

    requests.paths.clear()
    polls = asyncio.run(run())
    for site in SITES:
        figure(f"{site}: server poller, gateway requests per minute, {POLLER_RUNS} active runs",
               requests.count(_prefix(site)) * 60 / POLLER_SECONDS, "req/min", f"({polls} polls)")


def _prefix(site: str) -> str:
    """The path prefix of the gateway API a simulator site speaks."""
    return "/firecrest/" if "firecrest" in site else "/DEMO-SITE/"


def log_cost(service, runs) -> None:
    for site, site_runs in runs.items():
        running = [r for r in site_runs if service.synced(r.id).state == "RUNNING"][:1]
        wait_started(service, running)
        run = service.get(running[0].id)
        backend = service.backend(site)
        offset = len(backend.read_log(run, 0))
        with received_bytes() as sizes:
            backend.read_log(run, offset)
        figure(f"{site}: response bytes of a log poll, nothing new", sum(sizes), "bytes")
        log_path = _log_path(service, run)
        with open(log_path, "a") as fh:
            fh.write("x" * 1023 + "\n")
        with received_bytes() as sizes:
            data = backend.read_log(run, offset)
        figure(f"{site}: response bytes of a log poll, 1 KB new", sum(sizes), "bytes",
               f"({len(data)} new log bytes)")


def _log_path(service, run) -> Path:
    """Where the simulated site keeps the run's log (the benchmark appends to it)."""
    from mantik_jupyter.backends import LOG_FILE

    if run.site == "sim-firecrest":
        return Path(run.work_dir) / LOG_FILE
    job_id = run.remote_job_id.rstrip("/").rsplit("/", 1)[1]
    return service.home / "sim" / "unicore" / "jobs" / job_id / LOG_FILE


def upload_cost(service, tmp: Path) -> None:
    project = tmp / "project"
    nb = notebook(project / "nb.ipynb")
    (project / "data").mkdir()
    for i in range(FILES):
        (project / "data" / f"f{i:03}.bin").write_bytes(os.urandom(FILE_SIZE))
    size = sum(p.stat().st_size for p in project.rglob("*") if p.is_file())
    stop = {"Environment": {"PreRunCommandOnComputeNode": "exit 0"}}
    for site in SITES:
        first = service.submit(SubmitRequest(str(nb), site=site, config=stop))
        second = service.submit(SubmitRequest(str(nb), site=site, config=stop))
        figure(f"{site}: upload of a new {size / 1e6:.0f} MB bundle / its size",
               first.bytes_uploaded / size, "ratio")
        figure(f"{site}: upload of the unchanged re-submission / bundle size",
               second.bytes_uploaded / size, "ratio", f"({second.bytes_uploaded} bytes)")


def main() -> None:
    from mantik_jupyter.service import RunService
    from mantik_jupyter.sim import Simulator

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        os.environ["MANTIK_JUPYTER_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        sim = Simulator(home / "sim", port=0, executor="process",
                        slots=2 * POLLER_RUNS).start()
        try:
            with GatewayRequests() as requests:
                service = RunService(home)
                upload_cost(service, tmp)
                poll_cost(service, requests, tmp)
        finally:
            sim.stop()


if __name__ == "__main__":
    main()
