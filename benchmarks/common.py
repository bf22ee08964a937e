"""Helpers shared by the benchmarks: timing in a fresh interpreter and printing figures."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def fresh_python_seconds(code: str, repeat: int = 5) -> float:
    """Median wall time of ``python -c CODE`` in a new interpreter."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_seconds(action: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of calling ``action``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def figure(name: str, value: float, unit: str, note: str = "") -> None:
    """Print one figure in a fixed, grep-able form."""
    print(f"{name:<58} {value:>10.3f} {unit:<8} {note}", flush=True)
