"""A sweep against the same points submitted as separate runs, on sim-firecrest over a real
Slurm (``SLURM_CONF`` must name a running one: arrays need Slurm itself):

- gateway requests to submit, as a ratio sweep / separate runs (goal: O(1) in points);
- gateway requests of one status poll of all points, sweep / separate (the status call
  alone: a sync also fetches the results of the runs that ended);
- seconds until every point is QUEUED, sweep / separate (goal: under 0.05).

Every job ends at once (a pre-run command exits before papermill), so the machine's Slurm
is busy only briefly. ``SWEEP_POINTS`` sets the size (default 200).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.bench_backends import notebook
from benchmarks.common import figure
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.sim.server import GatewayRequests
from mantik_jupyter.sweeps import SweepRequest

SITE = "sim-firecrest"
PREFIX = "/firecrest/"
QUICK = {"Environment": {"PreRunCommandOnComputeNode": "exit 0"}}


def settled(requests: GatewayRequests) -> int:
    """The gateway requests counted so far (the access log is written just after each
    reply), then a fresh count."""
    time.sleep(0.2)
    count = requests.count(PREFIX)
    requests.paths.clear()
    return count


def main() -> None:
    from mantik_jupyter.service import RunService
    from mantik_jupyter.sim import Simulator

    points = int(os.environ.get("SWEEP_POINTS", "200"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        os.environ["MANTIK_JUPYTER_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        sim = Simulator(home / "sim", port=0, executor="slurm",
                        slurm_conf=os.environ.get("SLURM_CONF")).start()
        try:
            with GatewayRequests() as requests:
                service = RunService(home)
                nb = notebook(tmp / "p" / "nb.ipynb")
                base = SubmitRequest(str(nb), site=SITE, config=QUICK)
                service.submit(base)  # the upload cache and the clients are warm for both
                requests.paths.clear()
                start = time.perf_counter()
                runs = [service.submit(base) for _ in range(points)]
                separate_seconds = time.perf_counter() - start
                separate_submit = settled(requests)
                backend = service.backend(SITE)
                backend.status(runs)  # a poll's status call (sync would also fetch results)
                separate_poll = settled(requests)

                requests.paths.clear()
                start = time.perf_counter()
                sweep = service.submit(SweepRequest.of(
                    base, {"sweep": {"Points": [{}], "Repeat": points}}))
                sweep_seconds = time.perf_counter() - start
                sweep_submit = settled(requests)
                backend.status(service.points(sweep.id))
                sweep_poll = settled(requests)
        finally:
            sim.stop()
    figure(f"gateway requests to submit {points} points: sweep / separate",
           sweep_submit / separate_submit, "ratio", f"({sweep_submit} vs {separate_submit})")
    figure(f"gateway requests per poll of {points} points: sweep / separate",
           sweep_poll / max(separate_poll, 1), "ratio", f"({sweep_poll} vs {separate_poll})")
    figure(f"seconds to {points} points QUEUED: sweep / separate",
           sweep_seconds / separate_seconds, "ratio",
           f"({sweep_seconds:.1f} s vs {separate_seconds:.1f} s)")


if __name__ == "__main__":
    main()
