"""Engine figures: import cost, bundling throughput against tar, local submit-to-RUNNING."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import figure, fresh_python_seconds, median_seconds
from mantik_jupyter.request import SubmitRequest

HEAVY = ("mlflow", "papermill", "pyunicore", "firecrest")
TREE_FILES = 2000
TREE_BYTES = 200 * 1024 * 1024


def import_cost() -> None:
    baseline = fresh_python_seconds("pass")
    engine = fresh_python_seconds("import mantik_jupyter.service")
    mlflow = fresh_python_seconds("import mlflow", repeat=3)
    check = subprocess.run(
        [os.sys.executable, "-c",
         "import sys, mantik_jupyter.service, mantik_jupyter.cli; "
         f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    figure("import mantik_jupyter.service (s, minus bare interpreter)", engine - baseline, "s")
    figure("  as a ratio to import mlflow (same run)", (engine - baseline) / (mlflow - baseline),
           "x")
    figure("  heavy modules imported by it", len(check.split(",")) if check else 0, "count",
           check or "(none of mlflow, papermill, pyunicore, firecrest)")


def make_tree(root: Path) -> None:
    """2,000 files, 200 MB in all, in 20 folders, with incompressible content."""
    size = TREE_BYTES // TREE_FILES
    block = os.urandom(size)
    for i in range(TREE_FILES):
        folder = root / f"dir{i % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i:04d}.bin").write_bytes(block[i % 97:] + block[: i % 97])


def bundling() -> None:
    from mantik_jupyter.bundle import stage

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_tree(root)
        nb = root / "nb.ipynb"
        nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        counter = iter(range(100))

        def run_stage() -> None:
            dest = Path(tmp) / f"bundle{next(counter)}"
            stage(nb, run_id="bench", config={}, parameters={}, dest=dest)
            shutil.rmtree(dest)

        def run_tar() -> None:
            subprocess.run(["tar", "cf", f"{tmp}/tree.tar", "-C", str(root), "."], check=True)
            os.remove(f"{tmp}/tree.tar")

        tar = median_seconds(run_tar)
        ours = median_seconds(run_stage)
    mb = TREE_BYTES / 1e6
    figure("bundle 2,000 files / 200 MB: throughput", mb / ours, "MB/s")
    figure("  tar cf of the same tree: throughput", mb / tar, "MB/s")
    figure("  bundling time as a ratio to tar cf (copy + sha256 vs copy)", ours / tar, "x")


def submit_to_running() -> None:
    from mantik_jupyter.service import RunService

    with tempfile.TemporaryDirectory() as tmp:
        nb = Path(tmp) / "nb.ipynb"
        nb.write_text('{"cells": [], "metadata": {"kernelspec": {"name": "python3",'
                      ' "display_name": "Python 3", "language": "python"}},'
                      ' "nbformat": 4, "nbformat_minor": 5}')
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        service = RunService(home=Path(tmp) / "home")
        service.wait(service.submit(SubmitRequest(str(nb))).id)  # creates the MLflow database once
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run = service.submit(SubmitRequest(str(nb)))
            while service.synced(run.id).state not in ("RUNNING", "COMPLETED", "FAILED"):
                time.sleep(0.01)
            times.append(time.perf_counter() - start)
            service.wait(run.id)
        spawn = median_seconds(lambda: subprocess.run(["bash", "-c", "true"], check=True), 5)
    times.sort()
    figure("local submit to RUNNING (median of 3, MLflow run included)", times[1], "s")
    figure("  as a ratio to spawning bash -c true", times[1] / spawn, "x")


def main() -> None:
    import_cost()
    bundling()
    submit_to_running()


if __name__ == "__main__":
    main()
