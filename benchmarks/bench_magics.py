"""Magics figures: import and ``%load_ext`` cost of mantik_magics in a fresh interpreter.

A kernel has IPython loaded already, so the cost that matters is what the extension adds
on top of an IPython shell; it is shown as a ratio to ``import mlflow`` timed in the same
run (goal: under 0.15 s; importing the Mantik client takes 1.26 s, mlflow 1.0-2.0 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from benchmarks.common import figure

SHELL = ("from IPython.core.interactiveshell import InteractiveShell\n"
         "ip = InteractiveShell.instance()\n")
LOAD = "import mantik_magics\nip.run_line_magic('load_ext', 'mantik_magics')\n"
HEAVY = ("mlflow", "papermill", "mantik_jupyter", "ipywidgets")
REPEAT = 7


def timed_in_fresh_python(setup: str, code: str, repeat: int = REPEAT) -> float:
    """Median seconds ``code`` takes after ``setup`` in a new interpreter each time, timed
    inside it (start-up and setup are left out, so a loaded machine skews it less)."""
    script = (f"{setup}\nimport time\n_start = time.perf_counter()\n{code}\n"
              "print(time.perf_counter() - _start)")
    times = [float(subprocess.run([sys.executable, "-c", script], capture_output=True,
                                  text=True, check=True).stdout.split()[-1])
             for _ in range(repeat)]
    return statistics.median(times)


def main() -> None:
    added = timed_in_fresh_python(SHELL, LOAD)
    mlflow = timed_in_fresh_python("", "import mlflow", repeat=3)
    heavy = subprocess.run(
        [sys.executable, "-c", SHELL + LOAD + "import sys\n"
         f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    figure("import + %load_ext mantik_magics in an IPython shell (s)", added, "s",
           "goal < 0.15 s")
    figure("  as a ratio to import mlflow (same run)", added / mlflow, "x",
           f"import mlflow took {mlflow:.2f} s")
    figure("  heavy modules imported by it", len(heavy.split(",")) if heavy else 0, "count",
           heavy or "(none of mlflow, papermill, mantik_jupyter, ipywidgets)")
