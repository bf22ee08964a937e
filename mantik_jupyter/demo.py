"""``make demo``: JupyterLab with the extension, a local HPC site and MLflow, ready to submit.

Brings up Slurm when it can (root), else the simulator runs jobs as local processes; starts
the site simulator, an MLflow server with its UI, and JupyterLab opened on the quickstart
notebook; prints the URLs; Ctrl-C stops everything it started. ``--check`` submits the
quickstart through the REST API instead of waiting, and exits with its outcome.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from .processes import ManagedProcess, free_port
from .states import RunState

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mantik_jupyter.demo", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / ".demo",
                        help="folder for the demo's state and workspace (default .demo/)")
    parser.add_argument("--base-url", default="/", help="JupyterHub-style base URL, e.g. "
                                                        "/user/alice/")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--sim-port", type=int, default=8765)
    parser.add_argument("--check", action="store_true",
                        help="submit the quickstart through the API, wait, stop, and exit")
    return parser.parse_args(argv)


def _slurm(log_dir: Path) -> tuple[str, str]:
    """Bring Slurm up if possible: returns (executor, note)."""
    if os.geteuid() != 0:
        return "process", "not root: the simulator runs jobs as local processes, not on Slurm"
    with open(log_dir / "slurm-up.log", "ab") as log:
        proc = subprocess.run([str(REPO / "scripts" / "slurm-up")], stdout=subprocess.PIPE,
                              stderr=log, text=True, check=False)
    if proc.returncode != 0:
        return "process", f"Slurm did not come up (see {log_dir / 'slurm-up.log'}); " \
                          "the simulator runs jobs as local processes"
    for line in proc.stdout.splitlines():
        if line.startswith("export SLURM_CONF="):
            os.environ["SLURM_CONF"] = line.split("=", 1)[1]
    return "slurm", "jobs run on a real single-node Slurm"


def _workspace(folder: Path) -> Path:
    """The lab's contents root: a copy of notebooks/ (kept, so edits survive restarts)."""
    folder.mkdir(parents=True, exist_ok=True)
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        if not (folder / notebook.name).exists():
            shutil.copy2(notebook, folder / notebook.name)
    return folder


def _request(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    response = requests.request(method, url, json=body, timeout=60,
                                headers={"Authorization": f"token {token}"})
    response.raise_for_status()
    return response.json()


def _check(api: str, token: str, mlflow: str) -> bool:
    """Submit the quickstart to every site the demo configured; True if all complete."""
    sites = [s["name"] for s in _request(api + "sites", token)["sites"]
             if s["name"] == "local" or s["name"].startswith("sim-")]
    runs = [_request(api + "runs", token, "POST", {
        "notebook": "quickstart.ipynb", "site": site,
        "parameters": {"epochs": 3, "seconds_per_epoch": 0.1}, "name": f"demo-{site}"})
        for site in sites]
    deadline = time.monotonic() + 300
    ok = True
    for run in runs:
        while not RunState(run["state"]).terminal:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
            run = _request(f"{api}runs/{run['id']}", token)
        tracked = _request(f"{mlflow}/api/2.0/mlflow/runs/get?run_id={run['mlflow_run_id']}",
                           token)["run"]["data"]
        metrics = {m["key"] for m in tracked.get("metrics", [])}
        print(f"check: {run['site']}: {run['state']} {run['reason'] or ''} "
              f"metrics={sorted(metrics)}", flush=True)
        ok = ok and run["state"] == "COMPLETED" and "final_loss" in metrics
    return ok


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    base = args.dir.resolve()
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    home = Path(os.environ.get("MANTIK_JUPYTER_HOME") or base / "home")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    workspace = _workspace(base / "workspace")
    bindir = Path(sys.executable).parent
    executor, note = _slurm(logs)
    token = secrets.token_hex(16)
    mlflow_port = free_port(args.mlflow_port)
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    lab_port = free_port(args.port)
    base_url = "/" + args.base_url.strip("/") + "/" if args.base_url.strip("/") else "/"
    lab_url = f"http://127.0.0.1:{lab_port}{base_url}"
    env = {"MANTIK_JUPYTER_HOME": str(home), "MLFLOW_TRACKING_URI": mlflow_url}
    services = [
        ManagedProcess("simulator", [str(bindir / "mantik-jupyter"), "sim", "start",
                                     "--port", str(args.sim_port), "--executor", executor,
                                     "--root", str(home / "sim")], logs / "sim.log", env),
        ManagedProcess("MLflow", [str(bindir / "mlflow"), "server", "--backend-store-uri",
                                  f"sqlite:///{home / 'mlflow-server.db'}",
                                  "--artifacts-destination", str(home / "mlflow-artifacts"),
                                  "--host", "127.0.0.1", "--port", str(mlflow_port),
                                  "--workers", "1"], logs / "mlflow.log", env),
        ManagedProcess("JupyterLab", [str(bindir / "jupyter"), "lab", "--no-browser",
                                      "--allow-root", "--ServerApp.ip=127.0.0.1",
                                      f"--ServerApp.port={lab_port}", "--ServerApp.port_retries=0",
                                      f"--ServerApp.base_url={base_url}",
                                      f"--IdentityProvider.token={token}",
                                      f"--ServerApp.root_dir={workspace}",
                                      f"--MantikJupyter.mlflow_ui_url={mlflow_url}",
                                      "--LabApp.default_url=/lab/tree/quickstart.ipynb"],
                       logs / "jupyterlab.log", env),
    ]
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        print(f"mantik-jupyter demo ({note}); logs in {logs}", flush=True)
        sim, mlflow, lab = (s.start() for s in services)
        demo_login = base64.b64encode(b"demouser:test123").decode()
        sim.wait_until(f"http://127.0.0.1:{args.sim_port}/DEMO-SITE/rest/core", 60,
                       {"Authorization": f"Basic {demo_login}"})
        mlflow.wait_until(f"{mlflow_url}/health", 180)
        lab.wait_until(f"{lab_url}mantik/api/config", 120, {"Authorization": f"token {token}"})
        print(f"""
  JupyterLab   {lab_url}lab/tree/quickstart.ipynb?token={token}
  MLflow UI    {mlflow_url}
  Simulator    UNICORE http://127.0.0.1:{args.sim_port}/DEMO-SITE/rest/core (demouser/test123),
               FirecREST http://127.0.0.1:{args.sim_port}/firecrest/v2 (demo-client/demo-secret)
  Run state    {home}
Open the notebook, press "Submit notebook to HPC" in its toolbar (or use %%mantik_submit),
and watch the run in the "HPC runs" panel. Ctrl-C stops everything.""", flush=True)
        if args.check:
            return 0 if _check(f"{lab_url}mantik/api/", token, mlflow_url) else 1
        while not stopping:
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping the demo ...", flush=True)
        for service in reversed(services):
            service.stop()
        if executor == "slurm":
            print("Slurm keeps running for the next demo; scripts/slurm-down stops it.")


if __name__ == "__main__":
    sys.exit(main())
