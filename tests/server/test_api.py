"""The REST API through a real jupyter server with the extension, on the local site."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest
from helpers import make_notebook
from mantik_magics.local import LocalClient
from tornado.httpclient import HTTPClientError

from mantik_jupyter.links import LinkPolicy
from mantik_jupyter.server.app import EVENT_SCHEMA_ID
from mantik_jupyter.server.handlers import MantikHandler
from mantik_jupyter.service import RunService
from mantik_jupyter.store import Run, RunStore

SLOW = "import time\nfor i in range({n}):\n    print(f'line {{i}}', flush=True)\n" \
       "    time.sleep({pause})"
UNICODE = "print('Grüße aus Jülich ✓ 🌦', flush=True)"


def _rules(router) -> list:
    """Every rule of a tornado router, host routers included."""
    found = []
    for rule in getattr(router, "rules", []):
        found.append(rule)
        found += _rules(rule.target)
    return found


def _sample_path(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>[^)]*\)", "abc", pattern).lstrip("/").rstrip("$")


async def test_every_route_refuses_unauthenticated_requests(jp_serverapp, http_server_client,
                                                             jp_base_url):
    """Walks the server's own route table, so a new unauthenticated route fails here."""
    routes = [rule for rule in _rules(jp_serverapp.web_app.default_router)
              if isinstance(rule.target, type) and issubclass(rule.target, MantikHandler)]
    assert len(routes) >= 11
    checked = 0
    for rule in routes:
        path = _sample_path(rule.matcher.regex.pattern)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if getattr(rule.target, method.lower()) is getattr(MantikHandler, method.lower()):
                continue
            body = "{}" if method in ("POST", "PUT", "PATCH") else None
            for headers in ({}, {"Authorization": "token wrong-token"}):
                with pytest.raises(HTTPClientError) as err:
                    await http_server_client.fetch(f"/{path}", method=method, body=body,
                                                   headers=headers)
                assert err.value.code in (401, 403), (method, path, err.value.code)
                checked += 1
    assert checked >= 2 * 14


#: The routes that run code or change what runs: they need jupyter_server's ``execute``.
EXECUTE = {("POST", "runs"), ("POST", "runs/abc/rerun"), ("POST", "sites"),
           ("PUT", "sites/abc"), ("POST", "sites/abc/test"), ("POST", "schedules"),
           ("PATCH", "schedules/abc")}


async def test_every_route_asks_the_permission_it_needs(jp_serverapp, jp_fetch, authorizer):
    """Walks the route table with every action denied: each route is refused (403) and asked
    for ``read`` (GET), ``execute`` (the EXECUTE routes) or ``write`` (the rest)."""
    routes = [rule for rule in _rules(jp_serverapp.web_app.default_router)
              if isinstance(rule.target, type) and issubclass(rule.target, MantikHandler)]
    authorizer.denied = {"read", "write", "execute"}
    expected, asked = {}, {}
    for rule in routes:
        path = _sample_path(rule.matcher.regex.pattern).split("mantik/api/", 1)[1]
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if getattr(rule.target, method.lower()) is getattr(MantikHandler, method.lower()):
                continue
            authorizer.asked.clear()
            body = "{}" if method in ("POST", "PUT", "PATCH") else None
            with pytest.raises(HTTPClientError) as err:
                await jp_fetch("mantik", "api", *path.split("/"), method=method, body=body)
            assert err.value.code == 403, (method, path, err.value.code)
            expected[method, path] = ("read" if method == "GET" else
                                      "execute" if (method, path) in EXECUTE else "write")
            actions = [a for (_, p, a) in authorizer.asked if "/mantik/" in p]
            asked[method, path] = actions[0] if actions else None
    assert asked == expected
    assert set(expected) >= EXECUTE
    # with only execute denied, reads and writes go on while submitting is refused
    authorizer.denied = {"execute"}
    assert (await jp_fetch("mantik", "api", "runs")).code == 200
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mantik", "api", "runs", method="POST", body="{}")
    assert err.value.code == 403


async def test_submit_poll_logs_and_fetch_the_notebook(api, jp_root_dir, server_home):
    make_notebook(jp_root_dir / "work" / "train.ipynb", "n: int = 3\nlabel: str = 'x'",
                  UNICODE, SLOW.format(n="n", pause=0.3), "print('label', label)")
    run = await api.json("POST", "runs", {"notebook": "work/train.ipynb",
                                          "parameters": {"n": 6},
                                          "parameter_texts": {"label": "a b"},
                                          "name": "api run"}, expect=201)
    assert run["state"] == "SUBMITTING" and run["notebook_path"] == "work/train.ipynb"
    assert run["parameters"] == {"n": 6, "label": "a b"}
    done = await api.wait(run["id"], {"COMPLETED", "FAILED"})
    assert done["state"] == "COMPLETED", done

    whole = (Path(done["work_dir"]) / "mantik-job.log").read_bytes()
    collected, offset = b"", 0
    while True:  # 7-byte steps cut through multi-byte characters
        chunk = await api.json("GET", f"runs/{run['id']}/logs",
                               params={"offset": offset, "limit": 7})
        assert chunk["offset"] == offset
        collected += chunk["data"].encode()
        offset = chunk["next_offset"]
        if chunk["eof"]:
            break
    assert collected == whole and b"line 5" in whole and b"label a b" in whole
    assert "Grüße aus Jülich ✓ 🌦".encode() in whole

    fetched = await api.json("POST", f"runs/{run['id']}/notebook", expect=201)
    assert fetched["path"] == "mantik-runs/api_run/train.ipynb"
    assert "line 5" in (jp_root_dir / fetched["path"]).read_text()

    files = await api.json("GET", f"runs/{run['id']}/files")
    assert {"train.ipynb", "mantik-output"} <= {f["path"] for f in files["files"]}
    zipped = await api("GET", f"runs/{run['id']}/download", params={"path": "mantik-output"},
                       expect=200)
    names = zipfile.ZipFile(io.BytesIO(zipped.body)).namelist()
    assert names == ["mantik-output/train.ipynb"]
    single = await api("GET", f"runs/{run['id']}/download", params={"path": "train.ipynb"},
                       expect=200)
    assert single.body == (jp_root_dir / "work" / "train.ipynb").read_bytes()


def site_log(run: dict, sim) -> Path:
    """The job log as a file on the simulated site."""
    if run["site"] == "sim-firecrest":
        return Path(run["work_dir"]) / "mantik-job.log"
    job_id = run["remote_job_id"].rstrip("/").rsplit("/", 1)[1]
    return sim.config.root / "unicore" / "jobs" / job_id / "mantik-job.log"


@pytest.mark.parametrize("site", ["sim-unicore", "sim-firecrest"])
async def test_submit_to_the_simulator_sites(site, sim_home, api, jp_root_dir):
    make_notebook(jp_root_dir / "hpc.ipynb", "n: int = 2", UNICODE,
                  SLOW.format(n="n", pause=0.3))
    run = await api.json("POST", "runs", {"notebook": "hpc.ipynb", "site": site,
                                          "parameters": {"n": 4}}, expect=201)
    done = await api.wait(run["id"], {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"},
                          timeout=300)
    assert done["state"] == "COMPLETED", done
    collected, offset = b"", 0
    while True:
        chunk = await api.json("GET", f"runs/{run['id']}/logs",
                               params={"offset": offset, "limit": 64})
        collected += chunk["data"].encode()
        offset = chunk["next_offset"]
        if chunk["eof"]:
            break
    assert collected == site_log(done, sim_home).read_bytes()
    assert b"line 3" in collected and "Jülich ✓".encode() in collected
    fetched = await api.json("POST", f"runs/{run['id']}/notebook", expect=201)
    assert "line 3" in (jp_root_dir / fetched["path"]).read_text()


async def test_state_changes_are_emitted_in_order(api, jp_serverapp, jp_root_dir):
    seen: list[dict] = []

    async def listener(logger, schema_id, data):
        seen.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    make_notebook(jp_root_dir / "slow.ipynb", None, SLOW.format(n=8, pause=0.4))
    run = await api.json("POST", "runs", {"notebook": "slow.ipynb"}, expect=201)
    await api.wait(run["id"], {"COMPLETED"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the last event may follow the state on a busy loop
        mine = [e for e in seen if e["run_id"] == run["id"]]
        if mine and mine[-1]["new_state"] == "COMPLETED":
            break
        await asyncio.sleep(0.1)
    states = [e["new_state"] for e in mine]
    # the poller sees SUBMITTING unless the submission was done before its first look
    assert states in (["SUBMITTING", "QUEUED", "RUNNING", "COMPLETED"],
                      ["QUEUED", "RUNNING", "COMPLETED"]), states
    assert [e["old_state"] for e in mine] == [None, *states[:-1]]


async def test_cancel_rename_rerun_delete(api, jp_root_dir):
    make_notebook(jp_root_dir / "long.ipynb", "n: int = 600", SLOW.format(n="n", pause=0.5))
    run = await api.json("POST", "runs", {"notebook": "long.ipynb"}, expect=201)
    await api.wait(run["id"], {"RUNNING"})
    renamed = await api.json("PATCH", f"runs/{run['id']}", {"name": "renamed"})
    assert renamed["name"] == "renamed"
    await api.json("DELETE", f"runs/{run['id']}", expect=409)  # still running
    cancelled = await api.json("PATCH", f"runs/{run['id']}", {"action": "cancel"})
    assert cancelled["state"] == "CANCELLED"
    again = await api.json("PATCH", f"runs/{run['id']}", {"action": "cancel"}, expect=409)
    assert "already ended" in again["message"]

    child = await api.json("POST", f"runs/{run['id']}/rerun",
                           {"parameter_texts": {"n": "2"}, "name": "child"}, expect=201)
    assert child["parent_id"] == run["id"] and child["parameters"] == {"n": 2}
    child = await api.wait(child["id"], {"COMPLETED", "FAILED"})
    assert child["state"] == "COMPLETED"
    await api.json("DELETE", f"runs/{child['id']}", params={"remote": "true"}, expect=204)
    await api.json("GET", f"runs/{child['id']}", expect=404)
    assert not Path(child["work_dir"]).exists()


ENV_PROBE = "import os\nprint('DROP is', os.environ.get('DROP'), flush=True)"


async def test_rerun_with_replace_clears_what_it_leaves_out_and_without_merges(api, jp_root_dir):
    make_notebook(jp_root_dir / "env.ipynb", "n: int = 1\nlabel: str = 'x'", ENV_PROBE)
    first = await api.json("POST", "runs", {
        "notebook": "env.ipynb", "parameters": {"n": 2, "label": "y"},
        "config": "Resources: {Queue: devel, Runtime: 10m}\n"
                  "Environment: {Variables: {KEEP: 'yes', DROP: me}}"}, expect=201)
    first = await api.submitted(first)
    assert "export DROP=me" in first["script"]

    # the whole edited config as YAML text, DROP and Queue cleared, label left out
    replaced = await api.json("POST", f"runs/{first['id']}/rerun", {
        "replace": True, "parameter_texts": {"n": "3"},
        "config": "Resources: {Runtime: 10m}\nEnvironment: {Variables: {KEEP: 'yes'}}",
    }, expect=201)
    replaced = await api.submitted(replaced)
    assert replaced["parent_id"] == first["id"] and replaced["site"] == "local"
    assert replaced["spec"]["Resources"] == {"Runtime": "10m"}
    assert replaced["spec"]["Environment"] == {"Variables": {"KEEP": "yes"}}
    assert "DROP" not in replaced["script"] and "export KEEP=yes" in replaced["script"]
    assert replaced["parameters"] == {"n": 3}  # label is the notebook's default again

    # overrides only: everything else is the first run's
    merged = await api.json("POST", f"runs/{first['id']}/rerun", {
        "config": {"Resources": {"Runtime": "20m"}}, "parameter_texts": {"n": "4"},
    }, expect=201)
    merged = await api.submitted(merged)
    assert merged["spec"]["Resources"] == {"Queue": "devel", "Runtime": "20m"}
    assert "export DROP=me" in merged["script"]
    assert merged["parameters"] == {"n": 4, "label": "y"}

    for run, seen in ((replaced, "DROP is None"), (merged, "DROP is me")):
        done = await api.wait(run["id"], {"COMPLETED", "FAILED"})
        assert done["state"] == "COMPLETED", done
        log = await api.json("GET", f"runs/{run['id']}/logs")
        assert seen in log["data"], log["data"]


@pytest.mark.parametrize("body, status, key, text", [
    ({"replace": "yes"}, 400, "replace", 'replace must be true or false, got "yes"'),
    ({"config": "Resources: [a"}, 422, None, "malformed YAML at line 1"),
    ({"replace": True, "config": {"Resources": {"Runtime": "soon"}}}, 422,
     "Resources.Runtime", "not a duration"),
    ({"replace": True, "parameters": {"nope": 1}}, 422, "Parameters.nope", "unknown parameter"),
])
async def test_bad_reruns_get_accurate_errors_and_leave_no_run(
        api, jp_root_dir, body, status, key, text):
    make_notebook(jp_root_dir / "ok.ipynb", "n: int = 1", "print(n)")
    run = await api.json("POST", "runs", {"notebook": "ok.ipynb"}, expect=201)
    error = await api.json("POST", f"runs/{run['id']}/rerun", body, expect=status)
    assert text in error["message"], error
    assert error["details"].get("key") == key
    assert (await api.json("GET", "runs"))["total"] == 1


@pytest.mark.parametrize("body, status, key, text", [
    ("{not json", 400, None, "not valid JSON"),
    ([1, 2], 400, None, "must be a JSON object"),
    ({}, 400, "notebook", "notebook is required"),
    ({"notebook": "../../etc/passwd"}, 403, "notebook", "outside"),
    ({"notebook": "/etc/hostname"}, 403, "notebook", "outside"),
    ({"notebook": "missing.ipynb"}, 404, "notebook", "does not exist"),
    ({"notebook": "ok.ipynb", "site": "nowhere"}, 404, "site", "unknown site 'nowhere'"),
    ({"notebook": "ok.ipynb", "config": "Resources: {Runtime: soon}"}, 422,
     "Resources.Runtime", "not a duration"),
    ({"notebook": "ok.ipynb", "config": {"Resources": {"Queu": "x"}}}, 422,
     "Resources.Queu", "unknown key"),
    ({"notebook": "ok.ipynb", "config": "a: [b"}, 422, None, "malformed YAML at line 1"),
    ({"notebook": "ok.ipynb", "config": 5}, 400, "config", "YAML text or a JSON object"),
    ({"notebook": "ok.ipynb", "parameters": {"nope": 1}}, 422, "Parameters.nope",
     "unknown parameter"),
    ({"notebook": "ok.ipynb", "parameter_texts": {"n": "many"}}, 422, "Parameters.n",
     "expects int"),
    ({"notebook": "ok.ipynb", "parameters": [1]}, 400, "parameters", "JSON object"),
    ({"notebook": "ok.ipynb", "parameters": {"x": float("nan")}}, 422, "parameters", "NaN"),
    ({"notebook": "ok.ipynb", "parameter_texts": ["n"]}, 422, "Parameters",
     "parameter 'n' must look like NAME=VALUE"),
    ({"notebook": "ok.ipynb", "parameter_texts": {"n": 3}}, 400, "parameter_texts.n",
     "must be a string"),
    ({"notebook": "ok.ipynb", "sight": "local"}, 400, "sight", "unknown field(s) sight"),
    ({"notebook": "ok.ipynb", "config_file": "/etc/hostname"}, 403, "config_file", "outside"),
    ({"notebook": "ok.ipynb", "config_file": "none.yaml"}, 422, "config",
     "cannot read config file 'none.yaml'"),
    ({"notebook": "ok.ipynb", "config_file": "x.yaml", "config": "{}"}, 400, "config",
     "either as config or as config_file"),
    ({"notebook": "ok.ipynb", "sweep": {"Grid": {"x": [0.1, "big"]}}}, 422, "Parameters.x",
     "Sweep point 1 (x='big'): parameter 'x' expects float"),
    ({"notebook": "ok.ipynb", "sweep": {"Grid": {"m": [1]}}}, 422, "Parameters.m",
     "unknown parameter 'm'"),
    ({"notebook": "ok.ipynb", "sweep": {"Grid": {"n": []}}}, 422, "Sweep.Grid.n",
     "non-empty list"),
    ({"notebook": "ok.ipynb", "sweep": {"Grid": {"n": list(range(1001))}}}, 422, "Sweep",
     "1001 points is too many; at most 1000"),
    ({"notebook": "ok.ipynb", "sweep": {"Grid": {"n": [1]}}, "max_concurrent": 0}, 422,
     "Sweep.MaxConcurrent", "1 or more"),
    ({"notebook": "ok.ipynb", "sweep": "n"}, 400, "sweep", "must be a JSON object"),
    ({"notebook": "ok.ipynb", "sweep_texts": ["n=1,2"], "config_file": "a\u0000b"}, 400,
     "config_file", "NUL character"),
])
async def test_bad_submissions_get_accurate_errors_and_leave_no_run(
        api, jp_root_dir, body, status, key, text):
    make_notebook(jp_root_dir / "ok.ipynb", "n: int = 1\nx: float = 0.5", "print(n)")
    error = await api.json("POST", "runs", body if isinstance(body, (dict, list)) else body,
                           expect=status)
    assert text in error["message"], error
    assert error["details"].get("key") == key
    assert (await api.json("GET", "runs"))["total"] == 0


@pytest.mark.parametrize("method, path, params, status", [
    ("GET", "runs/nope", None, 404),
    ("GET", "runs/nope/logs", None, 404),
    ("GET", "runs/nope/results", None, 404),
    ("GET", "runs", {"limit": "0"}, 400),
    ("GET", "runs", {"limit": "lots"}, 400),
    ("GET", "runs", {"cursor": "garbage!"}, 400),
    ("GET", "runs", {"state": "DONE"}, 422),
    ("GET", "runs", {"sort": "name"}, 400),
    ("GET", "notebooks/parameters", {"path": "../x.ipynb"}, 403),
    ("GET", "notebooks/parameters", None, 400),
    ("POST", "sites/nowhere/test", None, 404),
    ("GET", "kernels/nope/save-frontend", None, 404),
    ("PUT", "kernels/nope/save-frontend", None, 404),
])
async def test_bad_requests(api, method, path, params, status):
    error = await api.json(method, path, params=params, expect=status)
    assert error["message"] and error["reason"]


async def test_pages_filters_and_total(api, server_home):
    store = RunStore(server_home / "runs.db")  # the server's store, as another process sees it
    for i in range(120):
        store.insert(Run(id=f"r{i:03d}", name=f"run {i}", site="local", notebook="/nb.ipynb",
                         state="COMPLETED" if i % 3 else "FAILED",
                         created_at=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}"))
    seen, cursor = [], None
    while True:
        page = await api.json("GET", "runs", params={"limit": 50, **({"cursor": cursor}
                                                                      if cursor else {})})
        assert page["total"] == 120
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"r{i:03d}" for i in range(119, -1, -1)]
    failed = await api.json("GET", "runs", params={"state": "failed", "limit": 5})
    assert failed["total"] == 40 and len(failed["runs"]) == 5
    assert {r["state"] for r in failed["runs"]} == {"FAILED"}
    oldest = await api.json("GET", "runs", params={"sort": "created_at", "limit": 2})
    assert [r["id"] for r in oldest["runs"]] == ["r000", "r001"]
    text = await api.json("GET", "runs", params={"text": "run 11"})
    assert {r["id"] for r in text["runs"]} == {"r011", "r110", "r111", "r112", "r113", "r114",
                                               "r115", "r116", "r117", "r118", "r119"}


async def test_page_entries_are_the_runs_with_their_links(api, jp_serverapp, jp_root_dir,
                                                          server_home):
    """One link policy renders every run's JSON, for the REST API and the in-process magics
    alike: GET runs/{id} is exactly the record %mantik_status returns in a plain kernel."""
    app = jp_serverapp.extension_manager.extension_points["mantik_jupyter"].app
    root = Path(jp_root_dir).resolve()
    assert app.service.links.contents_root == root
    app.service.links = LinkPolicy.of(root, "http://mlflow.test/", "sqlite:///x.db")
    store = RunStore(server_home / "runs.db")
    done = {"state": "COMPLETED", "finalized": 1}  # terminal and tracked: the poller keeps off
    for run in (Run(id="inside", name="in", site="local", notebook=str(root / "wörk/a b.ipynb"),
                    mlflow_run_id="m1", mlflow_experiment_id="7", parameters={"x": [1.5]},
                    created_at="2026-01-03", **done),
                Run(id="outside", name="out", site="local", notebook="/elsewhere/x.ipynb",
                    created_at="2026-01-02", **done),
                Run(id="sibling", name="sib", site="local", notebook=f"{root}-other/x.ipynb",
                    created_at="2026-01-01", **done)):
        store.insert(run)
    page = await api.json("GET", "runs")
    assert [entry["id"] for entry in page["runs"]] == ["inside", "outside", "sibling"]
    for entry in page["runs"]:
        assert entry == await api.json("GET", f"runs/{entry['id']}")
    in_process = LocalClient(RunService(home=server_home, links=app.service.links))
    for entry in page["runs"]:
        assert entry == in_process.run(entry["id"])
    inside, outside, sibling = page["runs"]
    assert inside == {**store.get("inside").to_dict(),
                      "notebook_path": "wörk/a b.ipynb",
                      "mlflow_url": "http://mlflow.test/#/experiments/7/runs/m1"}
    assert outside["notebook_path"] is None and outside["mlflow_url"] is None
    assert sibling["notebook_path"] is None  # shares the root's text, not its folder


async def test_a_relative_mlflow_ui_url_is_under_the_server_base_url(
        api, jp_serverapp, jp_root_dir, jp_base_url, server_home):
    # binder: the MLflow UI is behind jupyter-server-proxy at {base_url}mlflow/
    app = jp_serverapp.extension_manager.extension_points["mantik_jupyter"].app
    app.mlflow_ui_url = "mlflow/"
    app.service.links = app.link_policy(app.service.tracker)
    RunStore(server_home / "runs.db").insert(Run(id="r", name="r", site="local",
                                 notebook=str(Path(jp_root_dir) / "a.ipynb"), mlflow_run_id="m1",
                                 mlflow_experiment_id="7", created_at="2026-01-01",
                                 state="COMPLETED", finalized=1))
    assert (await api.json("GET", "config"))["mlflow_ui_url"] == f"{jp_base_url}mlflow/"
    assert (await api.json("GET", "runs/r"))["mlflow_url"] == \
        f"{jp_base_url}mlflow/#/experiments/7/runs/m1"


async def test_parameters_config_and_sites(api, jp_root_dir, jp_serverapp):
    make_notebook(jp_root_dir / "p.ipynb", "lr: float = 0.1  # learning rate\nepochs: int = 3",
                  "print(lr)")
    params = await api.json("GET", "notebooks/parameters", params={"path": "p.ipynb"})
    assert params["parameters"][0] == {"name": "lr", "type": "float", "default": 0.1,
                                       "default_text": "0.1", "help": "learning rate"}
    config = await api.json("GET", "config")
    assert config["defaults"]["site"] == "local" and config["version"]
    sites = await api.json("GET", "sites")
    by_name = {s["name"]: s for s in sites["sites"]}
    assert {"local", "juwels", "daint", "sim-unicore", "sim-firecrest"} <= set(by_name)
    assert by_name["local"]["health"] is None
    health = await api.json("POST", "sites/local/test")
    assert health["ok"] is True
    sites = await api.json("GET", "sites")
    assert {s["name"]: s for s in sites["sites"]}["local"]["health"]["ok"] is True
    token = jp_serverapp.identity_provider.token
    assert all(token.encode() not in body for body in api.bodies)


async def test_kernels_are_told_where_the_api_is(jp_serverapp, monkeypatch):
    monkeypatch.delenv("MANTIK_JUPYTER_URL", raising=False)
    monkeypatch.delenv("MANTIK_JUPYTER_TOKEN", raising=False)
    app = jp_serverapp.extension_manager.extension_points["mantik_jupyter"].app
    await app._start_jupyter_server_extension(jp_serverapp)
    import os

    assert os.environ["MANTIK_JUPYTER_URL"].endswith(jp_serverapp.base_url)
    assert os.environ["MANTIK_JUPYTER_TOKEN"] == jp_serverapp.identity_provider.token
    assert json.loads(json.dumps(os.environ["MANTIK_JUPYTER_URL"]))


async def test_a_frontend_says_it_answers_the_save_comm_of_a_kernel(api, jp_serverapp):
    kernel_id = await jp_serverapp.kernel_manager.start_kernel()
    try:
        path = f"kernels/{kernel_id}/save-frontend"
        assert await api.json("GET", path) == {"saves": False}
        assert await api.json("PUT", path) == {"saves": True}
        assert await api.json("GET", path) == {"saves": True}
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id)
