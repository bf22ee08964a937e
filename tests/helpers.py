"""Helpers shared by the tests (importable as ``helpers`` from any test folder)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import nbformat

SITES = ("sim-unicore", "sim-firecrest")  # the simulator's presets, one per gateway
REAL_FIRECREST = "firecrest-real"  # CSCS's own FirecREST server (tests/firecrest_fixtures.py)
FIRECREST_SITES = ("sim-firecrest", REAL_FIRECREST)
#: the slurm backend's sites over the session's Slurm (tests/slurm_ssh_fixtures.py)
SLURM_SITES = ("slurm-local", "slurm-ssh")
ALL_SITES = (*SITES, REAL_FIRECREST, *SLURM_SITES)


def make_notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    """Write a notebook with an optional tagged parameters cell followed by code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def wait_for(cli, run_id: str, states: set[str], timeout: float = 240) -> dict:
    """Poll ``mantik-jupyter show`` until the run is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        run = cli.json("show", run_id)
        if run["state"] in states:
            return run
        assert time.monotonic() < deadline, f"run stayed {run['state']}: {run}"
        time.sleep(0.3)


def wait_until(condition, what: str, timeout: float = 120):
    """Poll ``condition`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def write_config(path: Path, config: dict) -> str:
    """A run configuration file (JSON is YAML)."""
    path.write_text(json.dumps(config))
    return str(path)


def follow_while_running(cli, run_id: str, marker: bytes, timeout: float = 240) -> bytes:
    """Follow a run's log, assert ``marker`` arrived while it was RUNNING; return the rest."""
    follower = cli.popen("logs", run_id, "--follow")
    seen_running = False
    for raw in follower.stdout:
        if marker in raw:
            seen_running = cli.json("show", run_id)["state"] == "RUNNING"
            break
    rest, _ = follower.communicate(timeout=timeout)
    assert follower.returncode == 0
    assert seen_running, "no log line arrived while the job was running"
    return rest


def site_jobs(sim, site: str) -> list[dict]:
    """The jobs a site has, as ``{"id", "name", "state"}``: the simulator's own list, or for
    the real FirecREST server and the slurm sites Slurm's, with its ``reason`` (``scontrol``
    keeps ended jobs for MinJobAge, an hour)."""
    if site != REAL_FIRECREST and site not in SLURM_SITES:
        return [{"id": j["id"], "name": j["name"], "state": j["state"]} for j in sim.jobs()]
    out = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True,
                         check=True).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobName" in fields:
            jobs.append({"id": fields["JobId"], "name": fields["JobName"],
                         "state": fields.get("JobState", ""), "reason": fields.get("Reason")})
    return jobs
