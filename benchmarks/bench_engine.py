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
    """Staging with the hash cache, unchanged and after one file changed, against tar cf."""
    from mantik_jupyter.bundle import stage
    from mantik_jupyter.hashcache import RACY_NS, HashCache

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_tree(root)
        nb = root / "nb.ipynb"
        nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        old = time.time_ns() - 2 * RACY_NS  # as a tree saved a while ago is (not racy)
        for path in root.rglob("*"):
            os.utime(path, ns=(old, old))
        cache = HashCache(Path(tmp) / "hashes.db")
        counter = iter(range(100))

        def run_stage() -> None:
            dest = Path(tmp) / f"bundle{next(counter)}"
            stage(nb, run_id="bench", config={}, parameters={}, dest=dest, hashes=cache)
            shutil.rmtree(dest)

        edits = iter(range(100))

        def change_one_then_stage() -> None:
            (root / "dir00" / "file0000.bin").write_bytes(os.urandom(TREE_BYTES // TREE_FILES))
            next(edits)
            run_stage()

        def run_tar() -> None:
            subprocess.run(["tar", "cf", f"{tmp}/tree.tar", "-C", str(root), "."], check=True)
            os.remove(f"{tmp}/tree.tar")

        def walk_and_lstat() -> None:  # the floor: what "only the stat calls" costs in Python
            for folder, _, names in os.walk(root):
                for name in names:
                    os.lstat(os.path.join(folder, name))

        tar = median_seconds(run_tar)
        floor = median_seconds(walk_and_lstat)
        first = median_seconds(run_stage, repeat=1)  # hashes everything, fills the cache
        unchanged = median_seconds(run_stage)
        one_changed = median_seconds(change_one_then_stage)
    figure("bundle 2,000 files / 200 MB, empty hash cache: ratio to tar cf", first / tar, "x")
    figure("  unchanged tree (stat calls only): ratio to tar cf", unchanged / tar, "x",
           "goal < 0.05")
    figure("  one file changed: ratio to tar cf", one_changed / tar, "x", "goal < 1.5")
    figure("  os.walk + lstat of the tree alone: ratio to tar cf", floor / tar, "x")
    figure("  tar cf of the same tree", tar, "s")


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
