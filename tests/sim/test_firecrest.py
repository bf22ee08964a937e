"""The real pyfirecrest v2 client (sync and async) against the simulated FirecREST on Slurm.

Every FirecREST answer these tests receive is validated against the vendored OpenAPI spec.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from firecrest import FirecrestException
from simtools import firecrest_client, wait_for

SCRIPT = """#!/bin/bash
#SBATCH --job-name={name}
cat input.txt
for i in 1 2 3 4; do echo step $i; sleep 0.2; done
"""


def test_time_limit_comes_from_the_script(fc, overtime_job):
    job = fc.job_info("daint-sim", overtime_job[0])[0]
    assert job["time"]["limit"] == 1
    assert job["status"]["state"] in ("PENDING", "RUNNING")


def test_sync_client_end_to_end(fc, spec, home_dir, tmp_path):
    systems = fc.systems()
    assert {s["name"] for s in systems} == {"daint-sim", "eiger-sim"}
    assert fc.server_version() == "2.5.6"
    workdir = home_dir("e2e")
    local = tmp_path / "input.txt"
    local.write_text("uploaded\n")
    fc.upload("daint-sim", str(local), workdir, "input.txt")
    assert [f["name"] for f in fc.list_files("daint-sim", workdir)] == ["input.txt"]

    job_id = fc.submit("daint-sim", workdir, script_str=SCRIPT.format(name="e2e-job"))["jobId"]
    job = fc.wait_for_job("daint-sim", job_id)[0]
    assert job["status"]["state"] == "COMPLETED"
    assert job["status"]["exitCode"] == 0
    assert job["name"] == "e2e-job"
    assert job["workingDirectory"] == workdir

    out = fc.job_metadata("daint-sim", job_id)[0]["standardOutput"]
    assert out == f"{workdir}/slurm-{job_id}.out"
    text = "uploaded\nstep 1\nstep 2\nstep 3\nstep 4\n"
    assert fc.head("daint-sim", out, num_bytes=1000)["content"] == text
    with pytest.raises(FirecrestException, match="must be less than 1048576 bytes"):
        fc.view("daint-sim", out)  # as on CSCS's server: 5 MiB asked, over max_ops_file_size
    tail = fc.tail("daint-sim", out, num_bytes=10, exclude_beginning=True)
    assert tail["content"] == text[9:]
    assert (tail["startPosition"], tail["endPosition"]) == (10, -1)  # CSCS's: the arguments
    assert fc.tail("daint-sim", out, num_bytes=7)["content"] == "step 4\n"
    assert fc.head("daint-sim", out, num_lines=1)["content"] == "uploaded\n"
    assert fc.stat("daint-sim", out)["size"] == len(text)
    assert "e2e-job" in [j["name"] for j in fc.job_info("daint-sim")]
    download = tmp_path / "out.txt"
    fc.download("daint-sim", out, str(download))
    assert download.read_text() == text
    assert spec.checked >= 15, "every answer above must have been checked against the spec"


def test_partitions_come_from_slurm(fc):
    names = {p["name"] for p in fc.partitions("daint-sim")}
    assert names == {"batch", "devel", "booster"}


def test_job_list_is_per_system_and_shows_names(fc, home_dir):
    workdir = home_dir("list")
    job_id = fc.submit("eiger-sim", workdir.replace("daint-sim", "eiger-sim").rsplit("/", 1)[0],
                       script_str="#!/bin/bash\n#SBATCH -J on-eiger\ntrue\n")["jobId"]
    assert [j["name"] for j in fc.job_info("eiger-sim") if j["jobId"] == job_id] == ["on-eiger"]
    assert job_id not in {j["jobId"] for j in fc.job_info("daint-sim")}


def test_cancel_running_job(fc, home_dir):
    script = "#!/bin/bash\nsleep 120\n"
    job_id = fc.submit("daint-sim", home_dir("cancel"), script_str=script)["jobId"]
    wait_for(lambda: fc.job_info("daint-sim", job_id)[0]["status"]["state"] == "RUNNING")
    fc.cancel_job("daint-sim", job_id)
    job = fc.wait_for_job("daint-sim", job_id, timeout=300)[0]
    assert job["status"]["state"] == "CANCELLED"


def test_async_client_end_to_end(sim, spec, home_dir, tmp_path):
    workdir = home_dir("async")
    local = tmp_path / "input.txt"
    local.write_text("async upload\n")

    async def scenario() -> tuple[str, str, str]:
        client = firecrest_client(sim, spec, is_async=True)
        try:
            assert "daint-sim" in [s["name"] for s in await client.systems()]
            await client.upload("daint-sim", str(local), workdir, "input.txt")
            submitted = await client.submit(
                "daint-sim", workdir, script_str=SCRIPT.format(name="async-job"),
                env_vars={"GREETING": "hi there"},
            )
            job = (await client.wait_for_job("daint-sim", submitted["jobId"]))[0]
            out = (await client.job_metadata("daint-sim", job["jobId"]))[0]["standardOutput"]
            tail = await client.tail("daint-sim", out, num_bytes=8, exclude_beginning=True)
            return job["status"]["state"], job["name"], tail["content"]
        finally:
            await client.close_session()

    state, name, tail = asyncio.run(scenario())
    assert (state, name) == ("COMPLETED", "async-job")
    assert tail == "pload\nstep 1\nstep 2\nstep 3\nstep 4\n"  # tail -c +8: from byte 8
    assert spec.checked > 5


def test_job_environment_is_passed_and_clean(fc, home_dir):
    workdir = home_dir("env")
    job_id = fc.submit("daint-sim", workdir, env_vars={"ANSWER": "42 and more"},
                       script_str='#!/bin/bash\necho "$ANSWER"; env\n')["jobId"]
    fc.wait_for_job("daint-sim", job_id)
    out = fc.head("daint-sim", f"{workdir}/slurm-{job_id}.out", num_bytes=100_000)["content"]
    assert out.startswith("42 and more\n")
    assert "demo-secret" not in out and "test123" not in out


def test_job_over_its_time_limit_ends_timeout(fc, overtime_job):
    """Run last in the session (see conftest): Slurm's slow enforcement overlaps the suite."""
    job_id, submitted = overtime_job
    job = fc.wait_for_job("daint-sim", job_id, timeout=540)[0]
    assert job["status"]["state"] == "TIMEOUT"
    assert job["status"]["interruptSignal"] in (0, 15)
    assert time.time() - submitted > 55
