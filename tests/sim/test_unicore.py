"""The real pyunicore client (sync and aio) against the simulated UNICORE site on Slurm."""

from __future__ import annotations

import asyncio
import time

import httpx
from simtools import token, wait_for

ORDER = ["READY", "STAGINGIN", "QUEUED", "RUNNING", "STAGINGOUT", "SUCCESSFUL", "FAILED"]


def watch(job, until: tuple[str, ...] = ("SUCCESSFUL", "FAILED"), timeout: float = 300) -> list:
    """Statuses seen while polling ``job`` every 50 ms until one of ``until``."""
    seen: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = job.properties["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job stuck, statuses seen: {seen}")


def test_job_with_inputs_runs_through_states_and_stdout_is_readable(unicore, tmp_path):
    local = tmp_path / "input.txt"
    local.write_text("data from the laptop\n")
    job = unicore.new_job(
        {"Executable": "cat input.txt; sleep 1; echo done", "Name": "inputs"}, inputs=[str(local)]
    )
    job.cache_time = 0
    seen = watch(job)
    assert seen[-1] == "SUCCESSFUL", seen
    assert "QUEUED" in seen and "RUNNING" in seen, seen
    assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen), seen
    assert job.properties["exitCode"] == "0"
    wd = job.working_dir
    assert set(wd.listdir()) >= {"input.txt", "stdout", "stderr"}
    assert wd.stat("stdout").read() == b"data from the laptop\ndone\n"


def test_exit_3_ends_failed_with_exit_code(unicore):
    job = unicore.new_job({"Executable": "echo oops >&2; exit 3"})
    job.cache_time = 0
    assert watch(job)[-1] == "FAILED"
    assert job.exit_code == 3
    assert job.properties["exitCode"] == "3"
    assert "exit code 3" in job.properties["statusMessage"]
    assert job.working_dir.stat("stderr").read() == b"oops\n"


def test_growing_log_is_tailed_with_range_getting_only_new_bytes(unicore):
    job = unicore.new_job(
        {"Executable": "for i in $(seq 1 12); do echo line $i; sleep 0.25; done"}
    )
    job.cache_time = 0
    watch(job, until=("RUNNING", "SUCCESSFUL", "FAILED"))
    stdout = job.working_dir.stat("stdout")
    offset, chunks = 0, []
    while True:
        finished = job.properties["status"] in ("SUCCESSFUL", "FAILED")
        with stdout.raw(offset=offset) as resp:
            data = resp.read()
        if offset:
            assert resp.status_code == 206
        chunks.append(data)
        offset += len(data)
        if finished:
            break
        time.sleep(0.3)
    assert len([c for c in chunks if c]) > 2, "the log should have been read while it grew"
    assert b"".join(chunks) == b"".join(b"line %d\n" % i for i in range(1, 13))
    with stdout.raw(offset=offset) as resp:
        assert (resp.status_code, resp.read()) == (206, b"")


def test_suffix_range_and_json_listing(unicore, sim):
    job = unicore.new_job({"Executable": "printf 0123456789"})
    job.cache_time = 0
    watch(job)
    url = job.working_dir.resource_url + "/files/stdout"
    auth = (sim.config.username, sim.config.password)
    raw = {"Accept": "application/octet-stream"}
    assert httpx.get(url, auth=auth, headers={**raw, "Range": "bytes=-3"}).content == b"789"
    assert httpx.get(url, auth=auth, headers={**raw, "Range": "bytes=2-4"}).content == b"234"
    meta = httpx.get(url, auth=auth, headers={"Accept": "application/json"}).json()
    assert (meta["isDirectory"], meta["size"]) == (False, 10)
    listing = job.working_dir.contents("/")
    assert listing["isDirectory"] and "/stdout" in listing["content"]


def test_abort_running_job_ends_failed(unicore):
    job = unicore.new_job({"Executable": "sleep 120"})
    job.cache_time = 0
    assert watch(job, until=("RUNNING",))[-1] == "RUNNING"
    job.abort()
    assert watch(job)[-1] == "FAILED"
    assert "aborted" in job.properties["statusMessage"]
    assert job.exit_code is None


def test_tags_and_name_are_kept_and_listable(unicore):
    tag = f"run-{time.time_ns()}"
    job = unicore.new_job({"Executable": "true", "Name": "tagged", "Tags": [tag, "mantik"]})
    others = unicore.new_job({"Executable": "true", "Tags": ["mantik"]})
    found = unicore.get_jobs(tags=[tag])
    assert [j.resource_url for j in found] == [job.resource_url]
    assert {job.resource_url, others.resource_url} <= {
        j.resource_url for j in unicore.get_jobs(tags=["mantik"])
    }
    assert job.properties["name"] == "tagged"
    assert job.properties["tags"] == [tag, "mantik"]


def test_queue_and_runtime_reach_slurm(unicore):
    job = unicore.new_job({"Executable": "true", "Resources": {"Queue": "devel", "Runtime": "5m"}})
    job.cache_time = 0
    watch(job)
    props = job.properties
    assert props["queue"] == "devel"
    assert props["batchSystemID"].isdigit()
    assert any("partition devel" in line for line in props["log"])


def test_aio_client_submits_polls_and_reads_stdout(sim, tmp_path):
    from pyunicore import credentials
    from pyunicore.aio.client import Client

    local = tmp_path / "in.txt"
    local.write_text("async input\n")

    async def scenario() -> tuple[str, int | None, bytes]:
        cred = credentials.UsernamePassword(sim.config.username, sim.config.password)
        async with Client(cred, sim.unicore_url, cache_time=0) as client:
            await client.assert_authentication()
            job = await client.new_job({"Executable": "cat in.txt; exit 0"}, inputs=[str(local)])
            job.cache_time = 0
            while (await job.status).value not in ("SUCCESSFUL", "FAILED"):
                await asyncio.sleep(0.2)
            wd = await job.working_dir
            data = await (await wd.stat("stdout")).read()
            return (await job.status).value, await job.exit_code, data

    assert asyncio.run(scenario()) == ("SUCCESSFUL", 0, b"async input\n")


def test_bearer_token_is_accepted_too(sim):
    root = httpx.get(sim.unicore_url, headers={"Authorization": f"Bearer {token(sim)}"})
    assert root.status_code == 200
    assert root.json()["client"]["role"]["selected"] == "user"


def test_job_finishes_in_stageout_window_then_final(unicore, sim, monkeypatch):
    # a window wide enough for the 50 ms polling to see it on a loaded machine
    monkeypatch.setattr(sim.site.config, "stageout_seconds", 10)
    job = unicore.new_job({"Executable": "true"})
    job.cache_time = 0
    seen = watch(job)
    assert seen[-2:] == ["STAGINGOUT", "SUCCESSFUL"], seen
    wait_for(lambda: job.properties["status"] == "SUCCESSFUL")


def test_user_precommand_runs_on_the_login_node_before_submission(unicore):
    job = unicore.new_job({"Executable": "cat pre.txt", "User precommand": "echo ready > pre.txt",
                           "RunUserPrecommandOnLoginNode": "true"})
    job.cache_time = 0
    assert watch(job)[-1] == "SUCCESSFUL"
    assert job.working_dir.stat("stdout").read() == b"ready\n"
    refused = unicore.new_job({"Executable": "true", "User precommand": "exit 4"})
    refused.cache_time = 0
    assert watch(refused)[-1] == "FAILED"
    assert "precommand failed with exit code 4" in refused.properties["statusMessage"]
    assert refused.properties["batchSystemID"] == "N/A"
