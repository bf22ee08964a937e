"""pytest plugin: a real Slurm (``scripts/slurm-up``) and the site simulator in front of it.

Fixtures (all session-scoped, reusable from any test folder):

- ``slurm``: brings Slurm up once, exports ``SLURM_CONF``, returns the config path.
- ``simulator``: a ``mantik_jupyter.sim.Simulator`` on a free port, Slurm executor.
- ``process_simulator``: the same on local processes (no root, no Slurm needed).

Without root and outside CI the Slurm fixtures skip, saying why; with ``CI=true`` they fail,
because CI must test against the real batch system.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def unavailable(reason: str, need: str = "a real Slurm") -> None:
    """Skip locally, fail in CI: a missing Slurm (or other ``need``) must never pass CI
    unnoticed."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs {need}: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm() -> str:
    """A running single-node Slurm; returns SLURM_CONF (also set in os.environ)."""
    if os.geteuid() != 0:
        unavailable("needs root to install and start Slurm (scripts/slurm-up)")
    try:
        proc = subprocess.run([str(REPO / "scripts" / "slurm-up")], capture_output=True,
                              text=True, timeout=900)
    except subprocess.TimeoutExpired:
        unavailable("scripts/slurm-up did not finish within 15 minutes")
    if proc.returncode != 0 or "slurm ready" not in proc.stdout:
        unavailable(f"scripts/slurm-up failed ({proc.returncode}): {proc.stderr[-2000:]}")
    conf = next(line.split("=", 1)[1] for line in proc.stdout.splitlines()
                if line.startswith("export SLURM_CONF="))
    os.environ["SLURM_CONF"] = conf
    return conf


@pytest.fixture(scope="session")
def simulator(slurm: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The site simulator with the Slurm executor, default demo credentials, a free port."""
    from mantik_jupyter.sim import Simulator

    sim = Simulator(tmp_path_factory.mktemp("sim-slurm"), port=0, executor="slurm",
                    slurm_conf=slurm).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def process_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The site simulator running jobs as local processes (works anywhere)."""
    from mantik_jupyter.sim import Simulator

    sim = Simulator(tmp_path_factory.mktemp("sim-process"), port=0, executor="process").start()
    yield sim
    sim.stop()
