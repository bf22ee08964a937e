"""Memory of the process that serves runs while it tails a 2 GB log and downloads a 2 GB
file from each gateway of the site simulator (process executor): its peak resident size
above its size at rest, goal under 100 MB (nothing is read whole).

The run service works in this process as it does in the Jupyter server (the simulator in
a process of its own). The peak is the
kernel's own high-water mark (``VmHWM``), reset before each step through
``/proc/self/clear_refs``. The big files are sparse (written in no time, no disk used)
and placed straight into the run's folder on the simulated site; the download's copy is
real and removed at once. ``MANTIK_BENCH_BIG_MB`` sets their size (default 2048); with less
than three times that free under the temporary folder it is lowered, which is said.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_backends import notebook
from benchmarks.common import figure
from mantik_jupyter.backends import LOG_FILE
from mantik_jupyter.request import SubmitRequest

SITES = ("sim-unicore", "sim-firecrest")
GOAL_MB = 100
LOG_LIMIT = 1 << 20  # what the lab asks per log poll (the REST route's default)
BIG = "big.bin"
#: the job ends before the notebook: only its folder on the site is needed
QUICK = {"Environment": {"PreRunCommandOnComputeNode": "exit 0"}}


def rss_mb(field: str) -> float:
    """This process's ``VmRSS`` or ``VmHWM`` in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Start a new high-water mark at the present resident size."""
    Path("/proc/self/clear_refs").write_text("5")


def big_size(tmp: Path) -> int:
    """The size of the big files in bytes: as asked, or what the free disk allows."""
    asked = int(os.environ.get("MANTIK_BENCH_BIG_MB", "2048"))
    free = shutil.disk_usage(tmp).free // (1 << 20)
    size = min(asked, free // 3)
    if size < asked:
        print(f"only {free} MB free under {tmp}: big files of {size} MB, not {asked} MB",
              flush=True)
    return size << 20


def run_folder(service, run) -> Path:
    """Where the simulated site keeps the run's files."""
    if run.site == "sim-firecrest":
        return Path(run.work_dir)
    job_id = run.remote_job_id.rstrip("/").rsplit("/", 1)[1]
    return service.home / "sim" / "unicore" / "jobs" / job_id


def measure(service, run, size: int, tmp: Path) -> None:
    folder = run_folder(service, run)
    for name in (LOG_FILE, BIG):
        with open(folder / name, "r+b" if (folder / name).exists() else "wb") as fh:
            fh.truncate(size)  # sparse: no disk used, read as zeros
    gb = f"{size / (1 << 30):.1f} GB"
    try:
        idle = rss_mb("VmRSS")
        reset_peak()
        start = time.perf_counter()
        first = service.logs(run.id, 0, LOG_LIMIT)
        last = service.logs(run.id, size - LOG_LIMIT, LOG_LIMIT)
        took = time.perf_counter() - start
        assert len(first.data) == len(last.data) == LOG_LIMIT
        figure(f"{run.site}: peak RSS above rest, tailing a {gb} log", rss_mb("VmHWM") - idle,
               "MB", f"(goal < {GOAL_MB}; first and last 1 MiB, {took:.2f} s)")
        idle = rss_mb("VmRSS")
        reset_peak()
        start = time.perf_counter()
        copy = service.download(run.id, BIG, tmp / "to")
        took = time.perf_counter() - start
        assert copy.stat().st_size == size
        copy.unlink()
        figure(f"{run.site}: peak RSS above rest, downloading a {gb} file",
               rss_mb("VmHWM") - idle, "MB",
               f"(goal < {GOAL_MB}; at rest {idle:.0f} MB; {size / took / 1e6:.0f} MB/s)")
    finally:
        for name in (LOG_FILE, BIG):
            (folder / name).unlink(missing_ok=True)


def main() -> None:
    from mantik_jupyter.service import RunService

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        size = big_size(tmp)
        home = tmp / "home"
        os.environ["MANTIK_JUPYTER_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        # a process of its own, where the sim presets look: its memory is not counted
        sim = [sys.executable, "-m", "mantik_jupyter.sim"]
        subprocess.run([*sim, "start", "--detach", "--port", "0", "--executor", "process",
                        "--root", str(home / "sim")], check=True, capture_output=True)
        try:
            service = RunService(home)
            nb = notebook(tmp / "project" / "nb.ipynb")
            runs = [service.submit(SubmitRequest(str(nb), site=site, config=QUICK))
                    for site in SITES]
            for run in runs:
                ended = service.wait(run.id, timeout=600)
                if ended.state != "COMPLETED":
                    tail = service.logs(run.id, 0, LOG_LIMIT).data.decode(errors="replace")
                    raise RuntimeError(f"{run.site}: the run ended {ended.state}: "
                                       f"{ended.reason}; its log ends: {tail[-1500:]}")
            for run in runs:
                measure(service, service.get(run.id), size, tmp)
        finally:
            subprocess.run([*sim, "stop", "--root", str(home / "sim")], capture_output=True)


if __name__ == "__main__":
    main()
