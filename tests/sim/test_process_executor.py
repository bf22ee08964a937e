"""The process executor: Slurm's state machine with local processes (no root, no Slurm)."""

from __future__ import annotations

from pathlib import Path

import pytest
from simtools import SpecChecker, firecrest_client, fresh_dir, wait_for


@pytest.fixture
def psim(process_simulator):
    """The process-executor simulator, faults cleared afterwards."""
    yield process_simulator
    process_simulator.set_faults([])


@pytest.fixture
def pfc(psim):
    """A spec-checked pyfirecrest client of the process simulator."""
    checker = SpecChecker(psim.firecrest_url)
    client = firecrest_client(psim, checker)
    yield client
    client.close_session()
    assert checker.checked > 0


@pytest.fixture
def workdir(psim) -> str:
    return fresh_dir(psim, "w")


def state(client, job_id: str) -> dict:
    return client.job_info("daint-sim", job_id)[0]["status"]


def test_it_is_the_process_executor(psim):
    assert psim.executor == "process"
    assert psim.notice is None


def test_completed_with_name_from_the_script_and_output(pfc, workdir):
    script = '#!/bin/bash\n#SBATCH --job-name=hello\necho "hi $WHO"\n'
    job_id = pfc.submit("daint-sim", workdir, env_vars={"WHO": "world"}, script_str=script)["jobId"]
    job = pfc.wait_for_job("daint-sim", job_id)[0]
    assert (job["status"]["state"], job["status"]["exitCode"], job["name"]) == (
        "COMPLETED", 0, "hello")
    assert pfc.head("daint-sim", f"{workdir}/slurm-{job_id}.out",
                    num_bytes=100)["content"] == "hi world\n"


def test_exit_code_cancel_kill_and_node_failure(psim, pfc, workdir):
    failed = pfc.submit("daint-sim", workdir, script_str="#!/bin/bash\nexit 3\n")["jobId"]
    # a job's login shell must be through its start-up files before it is killed: killed
    # inside them (pyenv rehash here), it leaves a lock every later job waits 60 s on
    script = '#!/bin/bash\ntouch "started-$SLURM_JOB_ID"\nsleep 600\n'
    sleepers = [pfc.submit("daint-sim", workdir, script_str=script)["jobId"] for _ in range(3)]
    for job_id in sleepers:
        wait_for(lambda j=job_id: state(pfc, j)["state"] == "RUNNING")
        wait_for(lambda j=job_id: (Path(workdir) / f"started-{j}").exists())
    wait_for(lambda: state(pfc, failed)["state"] == "FAILED")
    pfc.cancel_job("daint-sim", sleepers[0])
    psim.kill_job(sleepers[1])
    psim.fail_node()
    ended = {j: pfc.wait_for_job("daint-sim", j, timeout=300)[0]["status"]
             for j in [failed, *sleepers]}
    assert (ended[failed]["state"], ended[failed]["exitCode"]) == ("FAILED", 3)
    assert (ended[sleepers[0]]["state"], ended[sleepers[0]]["interruptSignal"]) == ("CANCELLED", 15)
    assert (ended[sleepers[1]]["state"], ended[sleepers[1]]["interruptSignal"]) == ("FAILED", 9)
    assert ended[sleepers[2]]["state"] == "NODE_FAIL"


def test_more_jobs_than_slots_wait_pending(psim, pfc, workdir):
    # every job holds its slot until the test says go, however slow the machine is
    script = "#!/bin/bash\nwhile [ ! -e go ]; do sleep 0.1; done\n"
    ids = [pfc.submit("daint-sim", workdir, script_str=script)["jobId"]
           for _ in range(psim.config.slots + 1)]
    states = [state(pfc, j)["state"] for j in ids]
    (Path(workdir) / "go").touch()
    assert states.count("RUNNING") <= psim.config.slots
    assert "PENDING" in states
    # polled steadily: wait_for_job's doubling pauses would add up to 30 s here
    wait_for(lambda: not {state(pfc, j)["state"] for j in ids} & {"PENDING", "RUNNING"})
    assert [state(pfc, j)["state"] for j in ids] == ["COMPLETED"] * len(ids)


def test_unicore_runtime_limit_ends_failed_with_timeout_reason(psim):
    from pyunicore import client, credentials

    cred = credentials.UsernamePassword(psim.config.username, psim.config.password)
    site = client.Client(cred, psim.unicore_url, cache_time=0)
    # without the limit the job would outlast wait_for's deadline
    job = site.new_job({"Executable": "sleep 900", "Resources": {"Runtime": "2"}})
    job.cache_time = 0
    wait_for(lambda: job.properties["status"] == "FAILED")
    assert "TIMEOUT" in job.properties["statusMessage"]
    failing = site.new_job({"Executable": "exit 3"})
    failing.cache_time = 0
    wait_for(lambda: failing.properties["status"] == "FAILED")
    assert failing.exit_code == 3
