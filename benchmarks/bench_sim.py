"""Site simulator figures: submit-to-RUNNING through each gateway, and through CSCS's own
FirecREST server (scripts/firecrest-up, where its source is found), as a ratio to plain
sbatch (same Slurm, same run), and the simulator's idle CPU and memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import figure

REPO = Path(__file__).resolve().parent.parent
REPEAT = 5
POLL = 0.02
SETTLE = 2.0


def until_running(state: Callable[[], str], timeout: float = 60) -> float:
    """Seconds until ``state()`` says RUNNING (polled every 20 ms)."""
    start = time.perf_counter()
    while state() != "RUNNING":
        if time.perf_counter() - start > timeout:
            raise TimeoutError("job did not start")
        time.sleep(POLL)
    return time.perf_counter() - start


def squeue(env: dict[str, str], job_id: str) -> str:
    """The job's state as ``squeue`` shows it ("" once it left the queue)."""
    return subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], env=env,
                          capture_output=True, text=True).stdout.strip()


def settle(env: dict[str, str], job_id: str) -> None:
    """Wait until a cancelled job has left Slurm and the scheduler is idle again, so that
    every measured submission starts from the same state (Slurm defers scheduling for a
    moment after a job ends)."""
    while squeue(env, job_id):
        time.sleep(0.05)
    time.sleep(SETTLE)


def sbatch_to_running(env: dict[str, str], workdir: str) -> tuple[float, str]:
    """Plain ``sbatch`` then ``squeue`` until RUNNING."""
    start = time.perf_counter()
    job_id = subprocess.run(["sbatch", "--parsable", "-D", workdir, "-o", "/dev/null",
                             "--wrap", "sleep 30"], env=env, capture_output=True, text=True,
                            check=True).stdout.strip()
    elapsed = time.perf_counter() - start + until_running(lambda: squeue(env, job_id))
    subprocess.run(["scancel", job_id], env=env, check=True)
    return elapsed, job_id


def unicore_to_running(urls: dict, login: dict) -> tuple[float, str]:
    """pyunicore ``new_job`` then job properties until RUNNING."""
    from pyunicore import client, credentials

    user = credentials.UsernamePassword(login["username"], login["password"])
    site = client.Client(user, urls["unicore"], cache_time=0)
    start = time.perf_counter()
    job = site.new_job({"Executable": "sleep 30"})
    job.cache_time = 0
    elapsed = time.perf_counter() - start + until_running(lambda: job.properties["status"])
    job.abort()
    return elapsed, job.properties["batchSystemID"]


def firecrest_to_running(url: str, token_url: str, system: str, workdir: str,
                         login: dict) -> tuple[float, str]:
    """pyfirecrest ``submit`` then ``job_info`` until RUNNING."""
    from firecrest import ClientCredentialsAuth
    from firecrest.v2 import Firecrest

    auth = ClientCredentialsAuth(login["client_id"], login["client_secret"], token_url)
    fc = Firecrest(url, auth)
    fc.systems()  # the token, fetched before the clock starts
    start = time.perf_counter()
    job_id = fc.submit(system, workdir, script_str="#!/bin/bash\nsleep 30\n")["jobId"]
    elapsed = time.perf_counter() - start + until_running(
        lambda: fc.job_info(system, job_id)[0]["status"]["state"])
    fc.cancel_job(system, job_id)
    return elapsed, job_id


def real_firecrest(env: dict[str, str], root: str, urls: dict,
                   login: dict) -> dict[str, str] | None:
    """CSCS's own FirecREST server trusting this simulator's tokens, or None (and why)."""
    up = subprocess.run([str(REPO / "scripts" / "firecrest-up")], capture_output=True,
                        text=True, env={**env, "FIRECREST_TOKEN_URL": urls["token"],
                                        "FIRECREST_JWKS": f"{root}/auth/jwks.json",
                                        "FIRECREST_CLIENT_SECRET": login["client_secret"]})
    if up.returncode != 0:
        print(f"bench_sim: no real FirecREST figure, scripts/firecrest-up failed: "
              f"{up.stderr.strip().splitlines()[-1:]}")
        return None
    url = up.stdout.split("export FIRECREST_URL=", 1)[1].split()[0]
    base = Path(os.environ.get("FIRECREST_BASE") or REPO / ".firecrest")
    return {"url": url, "workdir": str(base / "home" / "root")}


def idle_usage(pid: int, seconds: float = 5.0) -> tuple[float, float]:
    """(CPU % over ``seconds`` of idleness, resident memory in MiB) of the simulator process."""
    import psutil

    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    time.sleep(seconds)
    cpu = (sum(proc.cpu_times()[:2]) - before) / seconds * 100
    return cpu, proc.memory_info().rss / 2**20


def main() -> None:
    """Bring Slurm up, start a detached simulator on it, time the three paths to RUNNING."""
    if os.geteuid() != 0:
        print("bench_sim: skipped, needs root to bring Slurm up (scripts/slurm-up)")
        return
    up = subprocess.run([str(REPO / "scripts" / "slurm-up")], capture_output=True, text=True)
    if up.returncode != 0:
        print(f"bench_sim: skipped, scripts/slurm-up failed: {up.stderr[-500:]}")
        return
    conf = up.stdout.split("export SLURM_CONF=", 1)[1].split()[0]
    env = {**os.environ, "SLURM_CONF": conf}
    with tempfile.TemporaryDirectory() as root:
        subprocess.run([sys.executable, "-m", "mantik_jupyter.sim", "start", "--detach",
                        "--port", "0", "--executor", "slurm", "--root", root], env=env,
                       check=True, capture_output=True)
        state = json.loads((Path(root) / "sim.json").read_text())
        login = json.loads((Path(root) / "login.json").read_text())  # made for this start
        try:
            cpu, rss = idle_usage(state["pid"])
            workdir = str(Path(root) / "firecrest" / "daint-sim" / "home" / "demouser")
            urls = state["urls"]
            paths = {"sbatch": lambda: sbatch_to_running(env, workdir),
                     "unicore": lambda: unicore_to_running(urls, login),
                     "firecrest": lambda: firecrest_to_running(urls["firecrest"], urls["token"],
                                                               "daint-sim", workdir, login)}
            real = real_firecrest(env, root, urls, login)
            if real:
                paths["real"] = lambda: firecrest_to_running(real["url"], urls["token"],
                                                             "daint-real", real["workdir"],
                                                             login)
            settle(env, paths["sbatch"]()[1])  # the first job after slurmctld starts is slower
            times: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(REPEAT):
                for name, path in paths.items():
                    elapsed, job_id = path()
                    times[name].append(elapsed)
                    settle(env, job_id)
        finally:
            subprocess.run([str(REPO / "scripts" / "firecrest-down")], capture_output=True)
            subprocess.run([sys.executable, "-m", "mantik_jupyter.sim", "stop", "--root", root],
                           capture_output=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    figure("sbatch -> RUNNING (median of 5)", median["sbatch"], "s")
    figure("UNICORE new_job -> RUNNING, ratio to sbatch", median["unicore"] / median["sbatch"],
           "x", f"{median['unicore']:.3f} s")
    figure("FirecREST submit -> RUNNING, ratio to sbatch", median["firecrest"] / median["sbatch"],
           "x", f"{median['firecrest']:.3f} s")
    if "real" in median:
        figure("real FirecREST 2.5.6 submit -> RUNNING, ratio to sbatch",
               median["real"] / median["sbatch"], "x", f"{median['real']:.3f} s")
    figure("simulator idle CPU (5 s, no requests)", cpu, "%")
    figure("simulator resident memory", rss, "MiB")


if __name__ == "__main__":
    main()
