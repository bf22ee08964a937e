"""The Jupyter server SIGKILLed between each pair of submit steps, again and again: the
restarted server loses no run, submits nothing twice and leaves no orphan job. Each kill
lands while the simulator holds the server at one step (its reply held back after the work
was done); the next start of the server settles what the dead one left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import make_notebook, wait_until
from mlflow.tracking import MlflowClient

from mantik_jupyter.reconciling import INTERRUPTED

TOKEN = "kill-test-token"  # noqa: S105 - a throwaway token for a test server
SITE = "sim-unicore"
#: where each server is killed: the request the simulator holds (its reply, after the work)
HOLDS = {
    "bundle uploaded": r"/files/[0-9a-f]{64}$",  # a bundle file into the upload cache
    "job created": r"/rest/core/jobs$",  # the job exists, not started
    "job started": r"/rest/core/jobs/[^/]+/actions/start$",  # on the batch system
}


class Server:
    """One ``jupyter server`` process with the extension, on a free port."""

    def __init__(self, root: Path, home: Path, env: dict[str, str], log: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mantik/api/"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                 f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
                 f"--IdentityProvider.token={TOKEN}", f"--MantikJupyter.home={home}",
                 "--MantikJupyter.poll_min_interval=0.2",
                 "--MantikJupyter.poll_max_interval=1", "--MantikJupyter.submit_grace=0"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {TOKEN}"
        try:
            wait_until(self.answers, "the server's API", timeout=300)
        except BaseException:
            self.stop()
            raise

    def answers(self) -> bool:
        assert self.proc.poll() is None, "the server exited"
        try:
            return self.http.get(self.url + "runs", timeout=5).ok
        except requests.ConnectionError:
            return False

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, self.url + path, timeout=60, **kwargs)
        assert response.ok, (method, path, response.status_code, response.text)
        return response.json()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def site_jobs(sim, run_id: str) -> list[dict]:
    return [j for j in sim.jobs() if j["name"] == f"mantik-{run_id}"]


def rule_matched(sim) -> bool:
    return sim.faults["matched"][0] >= 1


@pytest.mark.timeout(1200)
def test_a_server_killed_between_submit_steps_loses_no_run_and_submits_nothing_twice(
        process_simulator, mlflow_uri, tmp_path, monkeypatch):
    sim = process_simulator
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    home.mkdir(mode=0o700)
    (home / "sim").symlink_to(sim.config.root)  # where the sim presets look
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTER_TOKEN", "MANTIK_JUPYTER_HOME")}
    env["MLFLOW_TRACKING_URI"] = mlflow_uri
    log = tmp_path / "server.log"
    tracking = MlflowClient(mlflow_uri)
    killed: dict[str, str] = {}  # step -> run id
    server = None
    try:
        for number, (step, route) in enumerate([*HOLDS.items(), ("queued", "")]):
            # each server first settles what the previous one left behind, then submits
            server = Server(root, home, env, log)
            # a notebook of its own each time: its files are new to the upload cache
            make_notebook(root / f"kill-{number}.ipynb", None, f"print('step {number}')")
            sim.set_faults([{"route": route, "methods": ["POST", "PUT"],
                             "reply_latency": 600, "first": 1}] if route else [])
            run = server.call("POST", "runs", json={"notebook": f"kill-{number}.ipynb",
                                                    "site": SITE, "name": f"kill-{number}"})
            assert run["state"] == "SUBMITTING"
            if route:
                wait_until(lambda: rule_matched(sim), f"the server held at {step!r}", 300)
            if step == "job started":
                wait_until(lambda r=run: any(j["nativeId"] for j in site_jobs(sim, r["id"])),
                           "the job on the batch system", 300)
            if step == "queued":
                wait_until(lambda s=server, r=run: s.call("GET", f"runs/{r['id']}")["state"]
                           != "SUBMITTING", "the run queued", 300)
            if route:  # killed mid-submission
                assert server.call("GET", f"runs/{run['id']}")["state"] == "SUBMITTING"
            server.kill()
            sim.set_faults([])
            killed[step] = run["id"]

        server = Server(root, home, env, log)
        runs = {step: wait_until(
            lambda i=run_id: (r := server.call("GET", f"runs/{i}"))["state"] in
            {"COMPLETED", "FAILED"} and r, f"the run killed at {step!r} settled", 300)
            for step, run_id in killed.items()}
        everything = server.call("GET", "runs")
        # a run's MLflow run is ended by its finalization, which follows its state: wait for
        # it while this server still runs (stopped, it would be left to the next server)
        for step, run in runs.items():
            if run["mlflow_run_id"]:
                wait_until(lambda i=run["mlflow_run_id"]: tracking.get_run(i).info.status
                           != "RUNNING", f"MLflow's end of the run killed at {step!r}", 300)
    finally:
        sim.set_faults([])
        if server is not None:
            server.stop()

    assert everything["total"] == len(killed)  # no run lost, none added
    for step in ("bundle uploaded", "job created"):  # no job had reached the batch system
        run = runs[step]
        assert (run["state"], run["reason"]) == ("FAILED", INTERRUPTED), (step, run)
        assert site_jobs(sim, run["id"]) == [], step  # the created, never started job: gone
    for step in ("job started", "queued"):  # the job the site accepted, adopted once
        run = runs[step]
        assert run["state"] == "COMPLETED", (step, run)
        assert len(site_jobs(sim, run["id"])) == 1, step
        assert run["remote_job_id"].endswith(site_jobs(sim, run["id"])[0]["id"]), (step, run)
    for step, run in runs.items():  # MLflow knows how each ended, none left RUNNING
        status = tracking.get_run(run["mlflow_run_id"]).info.status if run[
            "mlflow_run_id"] else None
        assert status in ({"FINISHED"} if run["state"] == "COMPLETED" else {"FAILED", None}), (
            step, status)
    assert not list((home / "staging").glob("*"))  # no half-built bundle left behind
