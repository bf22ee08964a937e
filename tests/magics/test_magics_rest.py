"""The magics in a kernel started by a real Jupyter server with the extension: REST path.

The server runs as its own process under a JupyterHub-style base URL, with the UNICORE /
FirecREST site simulator beside it (its sim-* presets find it); the test plays the
frontend (it creates the session, renames the notebook, answers the ``mantik:save`` comm)
and drives the kernel through its connection file.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import make_notebook
from jupyter_client import BlockingKernelClient
from kernels import Kernel, kernel_env
from test_magics_in_process import widget_id, widget_update

from mantik_jupyter.sim.faults import FaultRule

TOKEN = "magics-test-token"  # noqa: S105 - a throwaway token for a test server
BASE = "/user/alice/"
SUBMIT_CELL = ("%%mantik_submit --wait -p n=2\nSite: sim-unicore\nResources:\n  Runtime: 5m\n"
               "  Queue: devel\n")
SLOW = "import time\nfor i in range(600):\n    print(f'line {i}', flush=True)\n    time.sleep(0.3)"


class Server:
    """A ``jupyter server`` process and a requests session for its API."""

    def __init__(self, root: Path, home: Path, tracking_uri: str, runtime: Path, log: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}{BASE}"
        self.runtime = runtime
        env = {**kernel_env(home, tracking_uri), "JUPYTER_RUNTIME_DIR": str(runtime)}
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             f"--port={port}",
             "--ip=127.0.0.1", f"--ServerApp.base_url={BASE}", f"--ServerApp.root_dir={root}",
             f"--IdentityProvider.token={TOKEN}", f"--MantikJupyter.home={home}",
             "--MantikJupyter.poll_min_interval=0.2", "--MantikJupyter.poll_max_interval=1"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=root)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {TOKEN}"
        deadline = time.monotonic() + 180
        while True:
            assert self.proc.poll() is None, log.read_text()
            try:
                if self.http.get(self.url + "api/status", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, self.url + path, timeout=60, **kwargs)
        assert response.ok, (method, path, response.status_code, response.text)
        return response

    def kernel_of(self, notebook: str) -> Kernel:
        """Open a notebook session (as the lab does) and connect to its kernel."""
        session = self.api("POST", "api/sessions", json={
            "path": notebook, "name": Path(notebook).name, "type": "notebook",
            "kernel": {"name": "python3"}}).json()
        client = BlockingKernelClient()
        client.load_connection_file(str(self.runtime / f"kernel-{session['kernel']['id']}.json"))
        client.start_channels(hb=False)  # the server watches the kernel's heartbeat
        client.wait_for_ready(timeout=180)
        self.session_id = session["id"]
        self.kernel_id = session["kernel"]["id"]
        return Kernel(client)

    def rename(self, old: str, new: str) -> None:
        """Rename a notebook the way JupyterLab does: the file, then its session."""
        self.api("PATCH", f"api/contents/{old}", json={"path": new})
        self.api("PATCH", f"api/sessions/{self.session_id}", json={"path": new})

    def save(self, path: str) -> None:
        """Save a notebook the way a frontend does (a PUT of its content)."""
        model = self.api("GET", f"api/contents/{path}").json()
        self.api("PUT", f"api/contents/{path}", json={
            "type": "notebook", "format": "json", "content": model["content"]})

    def wait_for_log(self, run_id: str, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.api("GET", f"mantik/api/runs/{run_id}/logs").json()["data"]:
            assert time.monotonic() < deadline, f"{text!r} never appeared in the log"
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def server(tmp_path: Path, tracking_uri: str):
    """The server, with the site simulator (process executor) its sim-* presets find."""
    from mantik_jupyter.sim import Simulator

    root = tmp_path / "root"
    root.mkdir()
    home = tmp_path / "home"
    sim = Simulator(home / "sim", port=0, executor="process").start()
    started = Server(root, home, tracking_uri, tmp_path / "runtime", tmp_path / "server.log")
    started.sim = sim
    yield started
    started.stop()
    sim.stop()


def test_kernel_of_a_server_submits_through_the_rest_api(server, tmp_path):
    root = tmp_path / "root"
    make_notebook(root / "project" / "draft.ipynb", "n: int = 1", "%load_ext mantik_magics",
                  SUBMIT_CELL, "print('n is', n)")
    make_notebook(root / "project" / "slow.ipynb", None, SLOW)
    kernel = server.kernel_of("project/draft.ipynb")
    server.rename("project/draft.ipynb", "project/train.ipynb")  # after the kernel started
    try:
        assert kernel.run("%load_ext mantik_magics").status == "ok"

        # the lab's side of the mantik:save comm: it says it has the target, then saves
        assert server.api("PUT", f"mantik/api/kernels/{server.kernel_id}/save-frontend"
                          ).json() == {"saves": True}

        def frontend(msg: dict) -> None:
            if (msg["msg_type"] == "comm_open"
                    and msg["content"]["target_name"] == "mantik:save"):
                server.save(msg["content"]["data"]["path"])

        submitted = kernel.run(SUBMIT_CELL, on_message=frontend)
        assert submitted.status == "ok", submitted.stderr
        assert "packaging project/train.ipynb: saved by the frontend just now" in \
            submitted.stdout
        assert f"through the Jupyter server at {server.url}" in submitted.stdout

        listed = server.api("GET", "mantik/api/runs").json()
        assert listed["total"] == 1  # the job, which ran the same cell, did not resubmit
        run = listed["runs"][0]
        assert run["state"] == "COMPLETED" and run["parameters"] == {"n": 2}
        assert run["site"] == "sim-unicore"
        assert run["notebook"] == str(root / "project" / "train.ipynb")
        assert f"run {run['id']}: COMPLETED" in submitted.stdout

        logs = kernel.run(f"%mantik_logs {run['id']}")
        assert f"running as run {run['id']} on site sim-unicore; not submitting again" in \
            logs.stdout
        assert "n is 2" in logs.stdout

        folder = kernel.run(f"%mantik_download {run['id']} mantik-output --to got")
        assert folder.stdout.strip() == "downloaded got/mantik-output"
        executed = json.loads((root / "project" / "got" / "mantik-output" / "train.ipynb")
                              .read_text())
        assert "n is 2" in json.dumps(executed)
        one_file = kernel.run(f"%mantik_download {run['id']} MLproject --to got")
        assert one_file.stdout.strip() == "downloaded got/MLproject"
        assert "papermill" in (root / "project" / "got" / "MLproject").read_text()

        listing = kernel.run("runs = %mantik_runs --state COMPLETED\nprint(runs[0]['id'])")
        assert listing.stdout.strip() == run["id"]
        sites = kernel.run("%mantik_sites").value.splitlines()
        assert "local" in [line.split()[0] for line in sites]

        (root / "project" / "slow.yaml").write_text("Name: slow from a file\n")
        slow = kernel.run("slow = %mantik_submit --notebook slow.ipynb --config slow.yaml\n"
                          "print(slow['id'])")
        assert "no frontend saved it" not in slow.stdout  # given with --notebook
        slow_id = slow.stdout.split()[-1]
        # the server read the file the kernel named (relative to the kernel's folder)
        assert server.api("GET", f"mantik/api/runs/{slow_id}").json()["name"] == \
            "slow from a file"
        # cancel once the job is up: a cancel while its wrapper starts can end FAILED (an
        # engine race, reported), which is not what this test is about
        server.wait_for_log(slow_id, "line 0")
        cancelled = kernel.run(f"%mantik_cancel {slow_id}")
        assert cancelled.stdout.strip() == f"run {slow_id}: CANCELLED", cancelled.stderr
        assert server.api("GET", f"mantik/api/runs/{slow_id}").json()["state"] == "CANCELLED"

        for code, expected in [("%mantik_status nosuchrun", "no run with id 'nosuchrun'"),
                               ("%mantik_submit --notebook slow.ipynb --site nope",
                                "unknown site 'nope'")]:
            bad = kernel.run(code)
            assert bad.status == "error" and bad.stderr.count("\n") == 1
            assert expected in bad.stderr and not bad.tracebacks

        # a large upload over a slow link: the card shows its progress and cancels it
        (root / "project" / "data.bin").write_bytes(b"\x33" * (30 << 20))
        server.sim.site.faults.replace([FaultRule(route=r"/files/[0-9a-f]{64}$",
                                                  methods=["PUT"], bandwidth=4 << 20)])
        big = kernel.run("big = %mantik_submit --notebook slow.ipynb --site sim-unicore\n"
                         "print(big['id'])")
        big_id = big.stdout.split()[-1]
        kernel.wait_for(widget_update("uploading"))
        kernel.comm_send(widget_id(big, "ButtonModel", description="cancel"),
                         {"method": "custom", "content": {"event": "click"}})
        kernel.wait_for(lambda m: widget_update("CANCELLED")(m) and widget_update(big_id)(m))
        cancelled = server.api("GET", f"mantik/api/runs/{big_id}").json()
        assert cancelled["state"] == "CANCELLED" and cancelled["remote_job_id"] is None

        # a Sweep key in the cell's config: the server submits a sweep, the card waits for
        # all its points, the results come ranked through GET runs/{id}/results
        make_notebook(root / "project" / "sweep.ipynb", "n: int = 1",
                      "import mlflow\nwith mlflow.start_run():\n"
                      "    mlflow.log_metric('loss', 1 / n)")
        swept = kernel.run("%%mantik_submit --notebook sweep.ipynb --site local --wait\n"
                           "Sweep: {Grid: {n: [1, 2]}, Objective: {Metric: loss}}\n",
                           timeout=600)
        assert swept.status == "ok", swept.stderr
        sweep_id = swept.stdout.split("submitted sweep ")[1].split()[0]
        assert swept.stdout.endswith(f"sweep {sweep_id}: COMPLETED (2 points: 2 COMPLETED)\n")
        assert server.api("GET", f"mantik/api/runs/{sweep_id}").json()["sweep_id"] == sweep_id
        ranked = kernel.run(f"r = %mantik_results {sweep_id}\n"
                            "print(list(r['params.n']), list(r['metrics.loss']), list(r['best']))")
        assert ranked.stdout == "[2, 1] [0.5, 1.0] [True, False]\n", ranked.stderr
    finally:
        server.sim.site.faults.replace([])
        kernel.client.stop_channels()


def test_without_a_frontend_the_saved_file_is_used_and_said(server, tmp_path):
    make_notebook(tmp_path / "root" / "nb.ipynb", None, "print('hello')")
    kernel = server.kernel_of("nb.ipynb")
    try:
        result = kernel.run("%load_ext mantik_magics\nr = %mantik_submit")
        assert result.status == "ok", result.stderr
        assert "packaging nb.ipynb: no frontend that saves notebooks has it open, so the " \
               "file as last saved" in result.stdout
        # no comm a frontend without the target would log as unknown
        assert not [m for m in result.messages if m["msg_type"] == "comm_open"
                    and m["content"]["target_name"] == "mantik:save"]
        missing = server.http.get(server.url + "mantik/api/kernels/nope/save-frontend",
                                  timeout=60)
        assert missing.status_code == 404
        assert missing.json()["message"] == "no kernel with id 'nope'"
    finally:
        kernel.client.stop_channels()
