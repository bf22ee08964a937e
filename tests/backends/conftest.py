"""Fixtures of the backend tests: the simulator over real Slurm where the sim presets find it.

The simulator runs on the session home's default root (``<home>/sim``), so the shipped
``sim-unicore`` and ``sim-firecrest`` presets reach it with their demo credentials and no
set-up, exactly as after ``mantik-jupyter sim start``. A test parametrized with
``site="firecrest-real"`` gets CSCS's own FirecREST server too (``firecrest_fixtures``),
one with a ``slurm-*`` site the slurm backend's profiles and sshd (``slurm_ssh_fixtures``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from firecrest_fixtures import REAL_SITE, real_firecrest  # noqa: F401 - used by name
from helpers import SLURM_SITES
from slurm_fixtures import slurm  # noqa: F401 - the Slurm fixture, used below
from slurm_ssh_fixtures import private_sshd, slurm_sites  # noqa: F401 - used by name


@pytest.fixture(scope="session")
def site_sim(slurm: str, session_home: Path) -> Iterator:  # noqa: F811
    """The simulator (Slurm executor) at ``<session home>/sim``, found by the sim presets.

    The session's MLflow store is created first, so no CLI call prints MLflow's set-up.
    """
    from mantik_jupyter.sim import Simulator
    from mantik_jupyter.tracking import Tracker

    Tracker(session_home, f"sqlite:///{session_home / 'mlflow.db'}").client.search_experiments()

    sim = Simulator(session_home / "sim", port=0, executor="slurm", slurm_conf=slurm).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(site_sim):
    """The shared simulator, its faults switched off after each test."""
    yield site_sim
    site_sim.set_faults([])


@pytest.fixture(autouse=True)
def real_site_up(request: pytest.FixtureRequest) -> None:
    """Bring the real FirecREST server (or the slurm sites' sshd) up for a test
    parametrized with its site."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("site") == REAL_SITE:
        request.getfixturevalue("real_firecrest")
    if callspec is not None and callspec.params.get("site") in SLURM_SITES:
        request.getfixturevalue("slurm_sites")
