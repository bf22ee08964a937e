"""``make demo``: JupyterLab with the extension, a local HPC site and MLflow, ready to submit.

Brings up Slurm when it can (root), else the simulator runs jobs as local processes; starts
the site simulator, an MLflow server with its UI, and JupyterLab opened on the quickstart
notebook; prints the URLs; Ctrl-C stops everything it started. ``--check`` submits the
quickstart through the REST API instead of waiting, and exits with its outcome.
``--services-for PID`` starts only the simulator (jobs as local processes: no root, no Slurm)
and MLflow, in the background for as long as process PID runs, and prints the shell exports
for the Jupyter server (``binder/start``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from . import paths
from .processes import ManagedProcess, alive, free_port
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
    parser.add_argument("--services-for", type=int, metavar="PID",
                        help="start only the simulator (jobs as local processes) and MLflow, "
                             "in the background until process PID exits; print shell exports "
                             "for a Jupyter server (state in $MANTIK_JUPYTER_HOME or "
                             "Jupyter's data dir)")
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


def check(api: str, token: str, mlflow: str, notebook: str = "quickstart.ipynb") -> bool:
    """Submit ``notebook`` (the quickstart, by its contents path) to every site the demo
    configured and read each run's metrics from the MLflow at ``mlflow``; True if all
    complete."""
    sites = [s["name"] for s in _request(api + "sites", token)["sites"]
             if s["name"] == "local" or s["name"].startswith("sim-")]
    runs = [_request(api + "runs", token, "POST", {
        "notebook": notebook, "site": site,
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


def _services(home: Path, logs: Path, executor: str, sim_port: int,
              mlflow_port: int) -> list[ManagedProcess]:
    """The site simulator (state in ``home``/sim, where the preset sites find it) and an
    MLflow server with its store in ``home``, not started yet."""
    bindir = Path(sys.executable).parent
    env = {"MANTIK_JUPYTER_HOME": str(home),
           "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}"}
    return [
        ManagedProcess("simulator", [str(bindir / "mantik-jupyter"), "sim", "start",
                                     "--port", str(sim_port), "--executor", executor,
                                     "--root", str(home / "sim")], logs / "sim.log", env),
        ManagedProcess("MLflow", [str(bindir / "mlflow"), "server", "--backend-store-uri",
                                  f"sqlite:///{home / 'mlflow-server.db'}",
                                  "--artifacts-destination", str(home / "mlflow-artifacts"),
                                  "--host", "127.0.0.1", "--port", str(mlflow_port),
                                  "--workers", "1"], logs / "mlflow.log", env),
    ]


def _await(sim: ManagedProcess, sim_port: int, mlflow: ManagedProcess, mlflow_url: str) -> None:
    """Block until the simulator's UNICORE site and MLflow answer."""
    sim.wait_until(f"http://127.0.0.1:{sim_port}/firecrest/v2/status/liveness/", 60)
    mlflow.wait_until(f"{mlflow_url}/health", 180)


def _stop_on_signals() -> list[bool]:
    """SIGTERM and SIGINT set the returned flag instead of interrupting."""
    stopping = [False]

    def on_signal(*_: object) -> None:
        stopping[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stopping


def serve_for(pid: int, executor: str, sim_port: int, mlflow_port: int) -> int:
    """Print the shell exports that point a Jupyter server at the simulator and MLflow, then
    run both in a background session until process ``pid`` exits (``binder/start`` passes
    its own pid, which ``exec`` hands to the notebook server)."""
    home = Path(os.environ.get("MANTIK_JUPYTER_HOME") or paths.home())
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    logs = home / "demo-logs"
    logs.mkdir(exist_ok=True)
    sim_port, mlflow_port = free_port(sim_port), free_port(mlflow_port)
    exports = {"MANTIK_JUPYTER_HOME": str(home),
               "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
               "MANTIK_DEMO_MLFLOW_PORT": str(mlflow_port)}
    print("".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()), end="",
          flush=True)
    if os.fork():
        return 0
    # the background half: its own session, and off the caller's pipe so `$(...)` returns
    os.setsid()
    with open(logs / "services.log", "ab") as log, open(os.devnull, "rb") as null:
        os.dup2(null.fileno(), 0)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    stopping = _stop_on_signals()
    services = _services(home, logs, executor, sim_port, mlflow_port)
    try:
        sim, mlflow = (s.start() for s in services)
        print(f"simulator (executor {executor}) on port {sim_port}, MLflow on port "
              f"{mlflow_port}, until process {pid} exits", flush=True)
        _await(sim, sim_port, mlflow, exports["MLFLOW_TRACKING_URI"])
        print("simulator and MLflow answer", flush=True)
        while not stopping[0] and alive(pid):
            time.sleep(0.5)
    except (RuntimeError, OSError) as exc:
        print(f"demo services failed: {exc}", flush=True)
    finally:
        for service in reversed(services):
            service.stop()
        print("simulator and MLflow stopped", flush=True)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.services_for:
        return serve_for(args.services_for, "process", args.sim_port, args.mlflow_port)
    base = args.dir.resolve()
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    home = Path(os.environ.get("MANTIK_JUPYTER_HOME") or base / "home")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    workspace = _workspace(base / "workspace")
    bindir = Path(sys.executable).parent
    executor, note = _slurm(logs)
    token = secrets.token_hex(16)
    sim_port = free_port(args.sim_port)
    mlflow_port = free_port(args.mlflow_port)
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    lab_port = free_port(args.port)
    base_url = "/" + args.base_url.strip("/") + "/" if args.base_url.strip("/") else "/"
    lab_url = f"http://127.0.0.1:{lab_port}{base_url}"
    env = {"MANTIK_JUPYTER_HOME": str(home), "MLFLOW_TRACKING_URI": mlflow_url}
    services = [
        *_services(home, logs, executor, sim_port, mlflow_port),
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
    stopping = _stop_on_signals()
    try:
        print(f"mantik-jupyter demo ({note}); logs in {logs}", flush=True)
        sim, mlflow, lab = (s.start() for s in services)
        _await(sim, sim_port, mlflow, mlflow_url)
        lab.wait_until(f"{lab_url}mantik/api/config", 120, {"Authorization": f"token {token}"})
        print(f"""
  JupyterLab   {lab_url}lab/tree/quickstart.ipynb?token={token}
  MLflow UI    {mlflow_url}
  Simulator    UNICORE http://127.0.0.1:{sim_port}/DEMO-SITE/rest/core,
               FirecREST http://127.0.0.1:{sim_port}/firecrest/v2 (login: {home}/sim/login.json)
  Run state    {home}
Open the notebook, press "Submit notebook to HPC" in its toolbar (or use %%mantik_submit),
and watch the run in the "HPC runs" panel. Ctrl-C stops everything.""", flush=True)
        if args.check:
            return 0 if check(f"{lab_url}mantik/api/", token, mlflow_url) else 1
        while not stopping[0]:
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
