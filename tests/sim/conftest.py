"""Fixtures for the simulator tests: the Slurm-backed simulator, real clients, spec checking."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from simtools import SpecChecker, firecrest_client, fresh_dir
from slurm_fixtures import process_simulator, simulator, slurm  # noqa: F401

SLOW_LAST = "test_job_over_its_time_limit_ends_timeout"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The TIMEOUT test waits for Slurm's 1-minute limit (enforced up to ~90 s late): its job
    is submitted with the first simulator test and the test itself runs last."""
    items.sort(key=lambda item: item.name == SLOW_LAST)


@pytest.fixture(scope="session")
def overtime_job(simulator) -> tuple[str, float]:  # noqa: F811 - the plugin's fixture
    """A FirecREST job over its 1-minute limit: (job id, submit time)."""
    client = firecrest_client(simulator, SpecChecker(simulator.firecrest_url))
    script = "#!/bin/bash\n#SBATCH --time=1\nsleep 600\n"
    workdir = fresh_dir(simulator, "overtime")
    return client.submit("daint-sim", workdir, script_str=script)["jobId"], time.time()


@pytest.fixture
def sim(simulator, overtime_job):  # noqa: F811 - the plugin's fixture, used here
    """The shared Slurm simulator, with its faults and token lifetime reset after each test."""
    yield simulator
    simulator.set_faults([])
    simulator.site.auth.lifetime = simulator.config.token_lifetime


@pytest.fixture
def spec(sim) -> SpecChecker:
    """Checks every FirecREST response a client of this test receives."""
    return SpecChecker(sim.firecrest_url)


@pytest.fixture
def fc(sim, spec: SpecChecker) -> Iterator:
    """A sync pyfirecrest v2 client of the Slurm simulator (spec-checked)."""
    client = firecrest_client(sim, spec)
    yield client
    client.close_session()


@pytest.fixture
def home_dir(sim) -> Callable[[str], str]:
    """A fresh folder in daint-sim's home for one test: ``home_dir("name")`` -> path."""
    return lambda name: fresh_dir(sim, name)


@pytest.fixture
def unicore(sim):
    """A sync pyunicore client of the Slurm simulator (Basic demo login, no caching)."""
    from pyunicore import client, credentials

    cred = credentials.UsernamePassword(sim.config.username, sim.config.password)
    return client.Client(cred, sim.unicore_url, cache_time=0)
