"""Injected faults: the clients' own error handling is exercised, the site never duplicates jobs."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from firecrest import FirecrestException
from pyunicore.client import Job
from simtools import wait_for


def retry(call, attempts: int = 30):
    """What a backend does on 5xx: try again (only errors the simulator injected)."""
    for _ in range(attempts):
        try:
            return call()
        except FirecrestException as exc:
            if exc.responses[-1].status_code < 500:
                raise
        except httpx.HTTPError as exc:
            if "503" not in str(exc):
                raise
    raise AssertionError(f"still failing after {attempts} attempts")


def names_on_site(sim, prefix: str) -> list[str]:
    """Names of every job the site created whose name starts with ``prefix``."""
    return sorted(j["name"] for j in sim.jobs() if j["name"].startswith(prefix))


def test_errors_and_latency_never_create_a_job_twice(sim, fc, unicore, home_dir):
    prefix = f"flaky-{time.time_ns()}"
    before = sim.faults["injected"]["error"]
    route = "^/(firecrest|auth|DEMO-SITE)"
    # every request is slow, every 4th fails: the same faults on every run
    sim.set_faults([{"route": route, "latency": 0.2},
                    {"route": route, "error_rate": 1.0, "every": 4}])
    workdir = home_dir("flaky")
    started = time.time()
    fc_ids = []
    for i in range(4):
        script = f"#!/bin/bash\n#SBATCH -J {prefix}-fc{i}\ntrue\n"
        fc_ids.append(retry(lambda s=script: fc.submit("daint-sim", workdir, script_str=s)))
    jobs_url = sim.unicore_url + "/jobs"
    for i in range(3):
        desc = {"Executable": "true", "Name": f"{prefix}-uc{i}", "haveClientStageIn": "true"}
        location = retry(lambda d=desc: unicore.transport.post(url=jobs_url, json=d)).headers
        job = Job(unicore.transport, location["Location"], cache_time=0)
        retry(job.start)
        retry(job.start)  # a retried start must not submit again
        wait_for(lambda j=job: retry(lambda: j.properties["status"]) in ("SUCCESSFUL", "FAILED"))
        submissions = [line for line in retry(lambda j=job: j.properties["log"])
                       if "Submitted to" in line]
        assert len(submissions) == 1
    faults = sim.faults
    elapsed = time.time() - started
    sim.set_faults([])  # pyfirecrest's wait_for_job cannot survive a 5xx (UnboundLocalError)
    for submitted in fc_ids:
        assert fc.wait_for_job("daint-sim", submitted["jobId"])[0]["status"]["state"] == "COMPLETED"
    slow, failing = faults["matched"]
    assert slow == failing >= 20
    assert faults["injected"]["error"] == before + failing // 4
    assert elapsed >= 0.2 * slow, "the latency was not applied to every request"
    expected = sorted([f"{prefix}-fc{i}" for i in range(4)] + [f"{prefix}-uc{i}" for i in range(3)])
    assert names_on_site(sim, prefix) == expected


def test_429_with_retry_after_is_retried_by_pyfirecrest_itself(sim, fc, home_dir):
    name = f"throttled-{time.time_ns()}"
    before = sim.faults["injected"]["throttle"]
    # the submission and the first status request are each refused twice with 429
    sim.set_faults([{"route": "/compute/daint-sim/jobs$", "methods": ["POST"],
                     "throttle_rate": 1.0, "first": 2, "retry_after": 0},
                    {"route": "/compute/daint-sim/jobs/[^/]+$", "methods": ["GET"],
                     "throttle_rate": 1.0, "first": 2, "retry_after": 0}])
    job_id = fc.submit("daint-sim", home_dir("throttle"),
                       script_str=f"#!/bin/bash\n#SBATCH -J {name}\ntrue\n")["jobId"]
    assert fc.wait_for_job("daint-sim", job_id)[0]["status"]["state"] == "COMPLETED"
    assert [j["name"] for j in fc.job_info("daint-sim") if j["jobId"] == job_id] == [name]
    assert sim.faults["injected"]["throttle"] == before + 4
    assert names_on_site(sim, name) == [name]


def test_lost_reply_creates_the_job_and_drops_the_connection(sim, fc, unicore, home_dir):
    name = f"lost-{time.time_ns()}"
    before = sim.faults["injected"]["lost_reply"]
    sim.set_faults([{"route": "/compute/daint-sim/jobs$", "methods": ["POST"],
                     "lost_reply_rate": 1.0},
                    {"route": "/rest/core/jobs$", "methods": ["POST"], "lost_reply_rate": 1.0}])
    with pytest.raises(httpx.TransportError):
        fc.submit("daint-sim", home_dir("lost"),
                  script_str=f"#!/bin/bash\n#SBATCH -J {name}\ntrue\n")
    with pytest.raises(httpx.TransportError):
        unicore.new_job({"Executable": "true", "Name": name, "Tags": [name]})
    assert sim.faults["injected"]["lost_reply"] == before + 2
    sim.set_faults([])
    assert [j["name"] for j in fc.job_info("daint-sim")].count(name) == 1
    found = unicore.get_jobs(tags=[name])
    assert len(found) == 1 and found[0].properties["name"] == name
    assert names_on_site(sim, name) == [name, name]


def test_reply_latency_creates_the_job_and_holds_back_the_reply(sim, fc, home_dir):
    name = f"late-{time.time_ns()}"
    sim.set_faults([{"route": "/compute/daint-sim/jobs$", "methods": ["POST"],
                     "reply_latency": 120}])
    fc.timeout = 2  # the client gives up long before the reply would come
    with pytest.raises(httpx.ReadTimeout):
        fc.submit("daint-sim", home_dir("late"),
                  script_str=f"#!/bin/bash\n#SBATCH -J {name}\ntrue\n")
    sim.set_faults([])
    # the request keeps its reply latency; on a loaded machine its work may end after the timeout
    wait_for(lambda: names_on_site(sim, name))
    assert names_on_site(sim, name) == [name]


def test_dropped_connection_creates_nothing(sim, fc, home_dir):
    name = f"dropped-{time.time_ns()}"
    sim.set_faults([{"route": "/compute/daint-sim/jobs$", "methods": ["POST"], "drop_rate": 1.0}])
    with pytest.raises(httpx.TransportError):
        fc.submit("daint-sim", home_dir("drop"),
                  script_str=f"#!/bin/bash\n#SBATCH -J {name}\ntrue\n")
    sim.set_faults([])
    assert name not in [j["name"] for j in fc.job_info("daint-sim")]
    assert names_on_site(sim, name) == []


def test_faults_can_be_changed_over_http_at_run_time(sim):
    auth = (sim.config.username, sim.config.password)
    rule = {"route": "^/DEMO-SITE", "error_rate": 1.0, "error_status": 502}
    assert httpx.put(sim.url + "/_sim/faults", auth=auth, json={"rules": [rule]}).status_code == 200
    resp = httpx.get(sim.unicore_url, auth=auth)
    assert resp.status_code == 502 and resp.json()["status"] == 502
    bad = httpx.put(sim.url + "/_sim/faults", auth=auth, json={"rules": [{"rout": "x"}]})
    assert bad.status_code == 400 and "rout" in bad.json()["message"]
    assert httpx.get(sim.url + "/_sim/faults").status_code == 401
    assert httpx.put(sim.url + "/_sim/faults", auth=auth, json={"rules": []}).status_code == 200
    assert httpx.get(sim.unicore_url, auth=auth).status_code == 200


def test_killed_job_ends_failed_with_signal_9(sim, fc, home_dir):
    workdir = home_dir("kill")
    script = "#!/bin/bash\ntouch started\nsleep 120\n"
    job_id = fc.submit("daint-sim", workdir, script_str=script)["jobId"]
    # Slurm reads RUNNING before the batch script has a process to kill: wait for the script
    wait_for(lambda: (Path(workdir) / "started").exists())
    sim.kill_job(job_id)
    status = fc.wait_for_job("daint-sim", job_id, timeout=300)[0]["status"]
    assert (status["state"], status["interruptSignal"]) == ("FAILED", 9)
