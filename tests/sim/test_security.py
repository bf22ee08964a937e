"""Credentials, confinement of paths, validation of job descriptions, secrets kept out of jobs."""

from __future__ import annotations

import json
import stat

import httpx
import pytest
from simtools import token, wait_for

from mantik_jupyter.sim.simulator import LOGIN_FILE


@pytest.mark.parametrize("auth", [None, ("demouser", "wrong"), ("nobody", "test123")])
def test_unicore_refuses_missing_or_wrong_login_with_its_error_body(sim, auth):
    for url in (sim.unicore_url, sim.unicore_url + "/jobs"):
        resp = httpx.get(url, auth=auth)
        assert resp.status_code == 401
        assert resp.json()["status"] == 401 and resp.json()["errorMessage"]
    resp = httpx.post(sim.unicore_url + "/jobs", auth=auth, json={"Executable": "true"})
    assert resp.status_code == 401
    assert not [j for j in sim.jobs() if j["api"] == "unicore" and j["name"] == "nope"]


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic ZGVtb3VzZXI6dGVzdDEyMw=="])
def test_firecrest_refuses_missing_or_wrong_token_with_spec_error(sim, spec, header):
    headers = {"Authorization": header} if header else {}
    with httpx.Client(event_hooks={"response": [spec.sync_hook]}) as client:
        resp = client.get(sim.firecrest_url + "/status/systems", headers=headers)
        assert resp.status_code == 401
        assert resp.json()["message"]
        resp = client.post(sim.firecrest_url + "/compute/daint-sim/jobs", headers=headers,
                           json={"job": {"workingDirectory": "/", "script": "true"}})
        assert resp.status_code == 401
    assert spec.checked == 2


def test_token_endpoint_refuses_wrong_client(sim):
    resp = httpx.post(sim.token_url, data={"grant_type": "client_credentials",
                                           "client_id": "demo-client", "client_secret": "nope"})
    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthorized_client"
    basic = httpx.post(sim.token_url, data={"grant_type": "client_credentials"},
                       auth=(sim.config.client_id, sim.config.client_secret))
    assert basic.status_code == 200


def test_expired_token_is_refused_and_a_fresh_one_accepted(sim):
    """As FirecREST's own server (``min_token_ttl``), a token under 30 s from its end is
    refused as if expired already."""
    systems = sim.firecrest_url + "/status/systems"
    # 40 s: 10 s to use it (time enough on a loaded machine) before it falls under 30 s
    sim.site.auth.lifetime = 40
    short = token(sim)
    assert httpx.get(systems, headers={"Authorization": f"Bearer {short}"}).status_code == 200
    refused = wait_for(lambda: (r := httpx.get(
        systems, headers={"Authorization": f"Bearer {short}"})).status_code == 401 and r,
        timeout=60)
    assert refused.json()["message"] == ("Access token expires too soon (less than 30s "
                                         "remaining).")
    sim.site.auth.lifetime = sim.config.token_lifetime
    fresh = token(sim)
    assert httpx.get(systems, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    sim.expire_tokens()
    assert httpx.get(systems, headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    assert httpx.get(systems, headers={"Authorization": f"Bearer {token(sim)}"}).status_code == 200


@pytest.fixture
def unicore_job(unicore):
    """A finished UNICORE job: (job, its files URL, basic auth)."""
    job = unicore.new_job({"Executable": "echo inside"})
    job.cache_time = 0
    wait_for(lambda: job.properties["status"] in ("SUCCESSFUL", "FAILED"))
    return job, job.working_dir.resource_url + "/files"


@pytest.mark.parametrize("escape", ["/..%2F..%2F..%2Fsecret.txt", "/%2E%2E/%2E%2E/secret.txt",
                                    "/sub/../../../secret.txt", "/link/secret.txt"])
def test_unicore_paths_cannot_escape_the_job_directory(sim, unicore_job, escape):
    job, files = unicore_job
    auth = (sim.config.username, sim.config.password)
    workdir = sim.site.find(job.job_id).workdir
    outside = sim.config.root / "secret.txt"
    outside.write_text("not yours")
    (sim.config.root / "unicore" / "secret.txt").write_text("not yours either")
    link = f"{workdir}/link"
    import os

    if not os.path.lexists(link):
        os.symlink(sim.config.root, link)
    url = files + escape
    raw = {"Accept": "application/octet-stream"}
    for accept in (raw, {"Accept": "application/json"}):
        resp = httpx.get(url, auth=auth, headers=accept)
        assert resp.status_code in (403, 404)
        assert b"not yours" not in resp.content
    put = httpx.put(url, auth=auth, content=b"overwritten", headers=raw)
    assert put.status_code in (403, 404)
    assert httpx.delete(url, auth=auth).status_code in (403, 404)
    assert outside.read_text() == "not yours"
    assert (sim.config.root / "unicore" / "secret.txt").read_text() == "not yours either"


def test_firecrest_paths_outside_the_user_file_systems_are_refused(sim, fc, spec, tmp_path):
    outside = sim.config.root / "state"
    local = tmp_path / "x.txt"
    local.write_text("x")
    from firecrest import FirecrestException

    attempts = [
        lambda: fc.list_files("daint-sim", str(outside)),
        lambda: fc.view("daint-sim", str(outside / "jobs")),
        lambda: fc.list_files("daint-sim", f"{fc.systems()[0]['fileSystems'][0]['path']}/../.."),
        lambda: fc.upload("daint-sim", str(local), str(outside), "x.txt"),
        lambda: fc.mkdir("daint-sim", "/tmp/escaped-by-firecrest"),
        lambda: fc.submit("daint-sim", "/tmp", script_str="#!/bin/bash\ntrue\n"),
    ]
    for attempt in attempts:
        with pytest.raises(FirecrestException) as err:
            attempt()
        assert err.value.responses[-1].status_code in (403, 404)
    assert not (outside / "x.txt").exists()
    assert not (sim.config.root.parent / "escaped-by-firecrest").exists()


@pytest.mark.parametrize("body, named", [
    (b"{not json", "Malformed JSON"),
    (b'["Executable"]', "JSON object"),
    (b'{"Arguments": ["a"]}', "'Executable'"),
    (b'{"Executable": "true", "Arguments": "a b"}', "'Arguments'"),
    (b'{"Executable": "true", "Resources": {"Runtime": "soon"}}', "Resources.Runtime"),
    (b'{"Executable": "true", "Resources": {"Cores": 4}}', "Cores"),
    (b'{"Executable": "true", "Environment": {"1BAD": "x"}}', "'Environment'"),
    (b'{"Executable": "true", "Stdout": "../out"}', "'Stdout'"),
])
def test_unicore_malformed_job_is_400_naming_the_problem(sim, body, named):
    before = len(sim.jobs())
    resp = httpx.post(sim.unicore_url + "/jobs", content=body,
                      auth=(sim.config.username, sim.config.password),
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert named in resp.json()["errorMessage"]
    assert len(sim.jobs()) == before


@pytest.mark.parametrize("body, named", [
    (b"{not json", "Malformed JSON"),
    (b'{"script": "true"}', "body.job"),
    (b'{"job": {"script": "true"}}', "job.workingDirectory"),
    (b'{"job": {"workingDirectory": "HOME"}}', "'script'"),
    (b'{"job": {"workingDirectory": "HOME", "script": "true", "env": {"A": 1}}}', "job.env"),
    (b'{"job": {"workingDirectory": "HOME", "script": "true", "name": 5}}', "job.name"),
])
def test_firecrest_malformed_job_is_400_naming_the_problem(sim, spec, body, named):
    home = str(sim.site.filesystems("daint-sim")["users"])
    headers = {"Authorization": f"Bearer {token(sim)}", "Content-Type": "application/json"}
    with httpx.Client(event_hooks={"response": [spec.sync_hook]}) as client:
        resp = client.post(sim.firecrest_url + "/compute/daint-sim/jobs", headers=headers,
                           content=body.replace(b"HOME", home.encode()))
    assert resp.status_code == 400
    assert named in resp.json()["message"]


def test_secrets_never_reach_jobs_files_or_answers(sim, unicore):
    bearer = token(sim)
    job = unicore.new_job({"Executable": "env; cat /proc/self/environ | tr '\\\\0' '\\\\n'"})
    job.cache_time = 0
    wait_for(lambda: job.properties["status"] in ("SUCCESSFUL", "FAILED"))
    answers = json.dumps(job.properties) + json.dumps(sim.jobs()) + json.dumps(sim.faults)
    secrets = [sim.config.password, sim.config.client_secret, bearer]
    for secret in secrets:
        assert secret not in answers
    login = sim.config.root / LOGIN_FILE  # the one place that holds them: owner-only
    assert stat.S_IMODE(login.stat().st_mode) == 0o600
    for path in sim.config.root.rglob("*"):
        if path.is_file() and path != login:
            content = path.read_bytes()
            assert not any(s.encode() in content for s in secrets), path
