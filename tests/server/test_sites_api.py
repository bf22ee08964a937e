"""Sites through the REST API: presets read-only, user profiles, write-only credentials."""

from __future__ import annotations

import json

import pytest

PLANTED = "planted-Pa55word-7f3a9c"


async def test_presets_and_the_profile_schema(api):
    listing = await api.json("GET", "sites")
    by_name = {s["name"]: s for s in listing["sites"]}
    assert {"local", "juwels", "jureca", "jusuf", "daint", "eiger", "clariden", "santis",
            "sim-unicore", "sim-firecrest"} <= set(by_name)
    assert by_name["juwels"]["origin"] == "preset" and by_name["juwels"]["preset"] is True
    assert by_name["juwels"]["credentials_set"] is False
    assert by_name["local"]["credentials_set"] is True
    assert listing["schema"]["properties"]["kind"]["enum"] == ["firecrest", "slurm", "unicore"]


async def test_user_profile_life_cycle_and_secrets_never_come_back(api, server_home):
    created = await api.json("POST", "sites", {"name": "my-juwels", "base": "juwels",
                                               "username": "alice1"}, expect=201)
    assert created["origin"] == "user" and created["credentials_set"] is False
    assert created["settings"]["url"].endswith("/JUWELS/rest/core")
    conflict = await api.json("POST", "sites", {"name": "my-juwels", "base": "juwels"},
                              expect=409)
    assert "exists already" in conflict["message"]

    await api.json("PUT", "sites/my-juwels/credentials", {"secret": PLANTED}, expect=204)
    listing = await api.json("GET", "sites")
    assert {s["name"]: s for s in listing["sites"]}["my-juwels"]["credentials_set"] is True
    updated = await api.json("PUT", "sites/my-juwels", {**created["settings"], "kind": "unicore",
                                                        "title": "mine", "username": "bob"})
    assert updated["title"] == "mine" and updated["settings"]["username"] == "bob"

    profile = server_home / "sites" / "my-juwels.json"
    assert profile.stat().st_mode & 0o077 == 0
    for path in server_home.rglob("*"):
        if path.is_file() and "secrets" not in path.name:
            assert PLANTED.encode() not in path.read_bytes(), path
    assert all(PLANTED.encode() not in body for body in api.bodies)

    await api.json("DELETE", "sites/my-juwels", expect=204)
    await api.json("PUT", "sites/my-juwels", {"kind": "unicore", "url": "https://x"}, expect=404)


@pytest.mark.parametrize("method, path, body, status, text", [
    ("PUT", "sites/juwels", {"kind": "unicore", "url": "https://x"}, 403, "read-only"),
    ("DELETE", "sites/local", None, 403, "read-only"),
    ("DELETE", "sites/nowhere", None, 404, "unknown site"),
    ("POST", "sites", {"name": "bad", "kind": "pbs", "url": "https://x"}, 422, "kind"),
    ("POST", "sites", {"name": "a b", "kind": "unicore", "url": "https://x"}, 422, "name"),
    ("POST", "sites", {"name": "s1", "kind": "unicore", "url": "https://x",
                       "password": PLANTED}, 422, "password"),
    ("POST", "sites", {"name": "s2", "base": "nowhere"}, 404, "unknown site"),
    ("PUT", "sites/juwels/credentials", {}, 400, "secret"),
    ("PUT", "sites/nowhere/credentials", {"secret": "x"}, 404, "unknown site"),
])
async def test_site_errors(api, method, path, body, status, text):
    error = await api.json(method, path, body, expect=status)
    assert text in error["message"], error
    assert PLANTED not in json.dumps(error)


async def test_connection_test_reports_success_and_failure(api):
    ok = await api.json("POST", "sites/local/test")
    assert ok["ok"] is True
    await api.json("POST", "sites", {"name": "closed", "kind": "firecrest",
                                     "url": "http://127.0.0.1:9/firecrest/v2",
                                     "token_url": "http://127.0.0.1:9/auth/token",
                                     "machine": "daint-sim", "client_id": "c",
                                     "credentials": {"source": "secrets-file"}}, expect=201)
    await api.json("PUT", "sites/closed/credentials", {"secret": PLANTED}, expect=204)
    failed = await api.json("POST", "sites/closed/test")
    assert failed["ok"] is False and failed["message"]
    assert PLANTED not in failed["message"]
    listing = await api.json("GET", "sites")
    assert {s["name"]: s for s in listing["sites"]}["closed"]["health"]["ok"] is False
