"""GET runs while 4 gateways hang, as a ratio to the same server while they answer.

10,000 ended runs and 4 running ones, each on its own UNICORE site. First each site is a
loopback gateway that answers at once (the poller reads their jobs every cycle); then each
is one that accepts connections and never answers. The server is the same, with its default
gateway deadline, and the GET runs figures are taken from its first second on, while the
poller waits on the hung gateways and then refuses them."""

from __future__ import annotations

import http.server
import json
import socket
import statistics
import tempfile
import threading
from pathlib import Path

from benchmarks.bench_server import fill, p95, serving
from benchmarks.common import figure
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.store import Run, RunStore

SITES = 4


class RunningJob(http.server.BaseHTTPRequestHandler):
    """A gateway that answers every GET at once: the job is running."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = json.dumps({"status": "RUNNING"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def answering() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RunningJob)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/rest/core"


def silent() -> str:
    """A gateway that accepts connections and never answers."""
    sock = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            held.append(sock.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}/rest/core"


def point_at(home: Path, urls: list[str]) -> None:
    """Each site and its running job at one gateway."""
    catalog, store = SiteCatalog(home), RunStore(home / "runs.db")
    for i, url in enumerate(urls):
        name = f"gw{i}"
        profile = {"name": name, "kind": "unicore", "url": url, "username": "u"}
        if name in {s.name for s in catalog.all()}:
            catalog.update(name, profile)
        else:
            catalog.add(profile)
            catalog.set_credentials(name, "pw")
            store.insert(Run(id=f"active{i:06d}", name=f"active {i}", site=name,
                             notebook="/nb/a.ipynb", state="RUNNING"))
        store.update(f"active{i:06d}", remote_job_id=f"{url}/jobs/job{i}",
                     work_dir=f"{url}/storages/job{i}-uspace")
    store.close()


def measure(home: Path, tmp: str) -> list[float]:
    with serving(home, tmp, "--MantikJupyter.poll_min_interval=0.2",
                 "--MantikJupyter.poll_max_interval=0.5") as client:
        client.get("/mantik/api/runs?limit=1")  # the first request starts the poller
        return client.latencies("/mantik/api/runs?limit=50")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fill(home)
        point_at(home, [answering() for _ in range(SITES)])
        healthy = measure(home, tmp)
        point_at(home, [silent() for _ in range(SITES)])
        hung = measure(home, tmp)
    for name, times in (("answering", healthy), (f"{SITES} hanging", hung)):
        figure(f"GET runs?limit=50, {SITES} active sites {name}: median",
               statistics.median(times) * 1000, "ms")
        figure(f"GET runs?limit=50, {SITES} active sites {name}: p95", p95(times) * 1000, "ms")
    figure(f"GET runs p95 with {SITES} gateways hanging / all answering",
           p95(hung) / p95(healthy), "x", "goal: about 1")


if __name__ == "__main__":
    main()
