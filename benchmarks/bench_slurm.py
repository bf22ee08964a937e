"""The ``slurm`` backend over the real local Slurm, through both transports:

- submit-to-RUNNING (submit, then poll until the run reads RUNNING) as a ratio to plain
  ``sbatch`` of a one-line script polled with ``squeue`` the same way;
- commands per status poll cycle with 20 active runs (goal: 1), counted at the transport.

Needs root and the shared Slurm (``SLURM_BASE``, ``scripts/slurm-up``); the ssh transport
goes through a private sshd on a loopback port, as in the tests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import figure
from mantik_jupyter.request import SubmitRequest

REPO = Path(__file__).resolve().parent.parent
SITES = ("slurm-local", "slurm-ssh")
REPEAT = 3
ACTIVE_RUNS = 20
POLL = 0.1  # seconds between looks while waiting for RUNNING, the same for every way
WAITING = {"Environment": {"PreRunCommandOnComputeNode": "sleep 600"}}


def slurm_conf() -> str:
    """Bring up (or find) the shared Slurm; its config path, exported."""
    out = subprocess.run([str(REPO / "scripts" / "slurm-up")], capture_output=True, text=True,
                         check=True).stdout
    conf = next(line.split("=", 1)[1] for line in out.splitlines()
                if line.startswith("export SLURM_CONF="))
    os.environ["SLURM_CONF"] = conf
    return conf


def until(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(POLL)


def plain_sbatch(tmp: Path) -> float:
    """Seconds from ``sbatch --parsable`` to ``squeue`` reading RUNNING (median)."""
    script = tmp / "plain.sh"
    script.write_text("#!/bin/bash\nsleep 600\n")
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        job = subprocess.run(["sbatch", "--parsable", "-D", str(tmp), "-o", "/dev/null",
                              str(script)], capture_output=True, text=True,
                             check=True).stdout.strip()
        until(lambda job=job: subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"],
                                             capture_output=True, text=True).stdout.strip()
              == "RUNNING", "the plain job")
        times.append(time.perf_counter() - start)
        subprocess.run(["scancel", job], check=True)
    return statistics.median(times)


def through_mantik(service, site: str, nb: Path) -> float:
    """Seconds from ``RunService.submit`` to the run reading RUNNING (median)."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        run = service.submit(SubmitRequest(str(nb), site=site, config=WAITING))
        until(lambda run=run: service.synced(run.id).state == "RUNNING", f"a run on {site}")
        times.append(time.perf_counter() - start)
        service.cancel(run.id)
    return statistics.median(times)


def commands_per_poll(service, site: str, nb: Path) -> float:
    """Transport commands of one sync of ``ACTIVE_RUNS`` active runs."""
    runs = [service.submit(SubmitRequest(str(nb), site=site, config=WAITING))
            for _ in range(ACTIVE_RUNS)]
    transport = service.backend(site).transport
    sent = transport.run
    lines: list[str] = []

    def counted(line, *args, **kwargs):
        lines.append(line)
        return sent(line, *args, **kwargs)

    transport.run = counted
    try:
        cycles = []
        for _ in range(3):
            lines.clear()
            service.sync([service.get(r.id) for r in runs])
            cycles.append(len(lines))
    finally:
        del transport.run
        for run in runs:
            service.cancel(run.id)
    return statistics.mean(cycles)


def main() -> None:
    from mantik_jupyter.service import RunService
    from mantik_jupyter.sites import SiteCatalog

    if os.geteuid() != 0:
        print("bench_slurm: needs root (Slurm and a private sshd); skipped")
        return
    sys.path.insert(0, str(REPO / "tests"))
    from slurm_ssh_fixtures import ssh_profile, start_private_sshd

    conf = slurm_conf()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        os.environ["MANTIK_JUPYTER_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        (tmp / "sshd").mkdir()
        sshd = start_private_sshd(tmp / "sshd", conf)
        try:
            catalog = SiteCatalog(home)
            catalog.add({"name": "slurm-local", "kind": "slurm", "transport": "local",
                         "work_root": str(tmp / "local"),
                         "environment": {"Python": sys.prefix}})
            catalog.add(ssh_profile(sshd, "slurm-ssh", work_root=str(tmp / "ssh")))
            service = RunService(home)
            import nbformat

            nb = tmp / "project" / "idle.ipynb"  # its folder is the bundle: nothing else
            nb.parent.mkdir()
            nbformat.write(nbformat.v4.new_notebook(cells=[
                nbformat.v4.new_code_cell("print(1)")]), str(nb))
            plain = plain_sbatch(tmp)
            figure("plain sbatch: submit to RUNNING (median)", plain, "s")
            for site in SITES:
                seconds = through_mantik(service, site, nb)
                figure(f"{site}: submit to RUNNING / plain sbatch", seconds / plain, "ratio",
                       f"({seconds:.2f} s)")
            for site in SITES:
                figure(f"{site}: commands per poll, {ACTIVE_RUNS} active runs",
                       commands_per_poll(service, site, nb), "commands")
        finally:
            sshd.stop()


if __name__ == "__main__":
    main()
