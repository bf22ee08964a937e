"""Sites that hang or answer an HTML page: nothing else stalls, and a request that must reach
such a site gets a 503 (hung) or 502 (unreadable) naming it, never a 500 or a hang."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time

import pytest
from helpers import make_notebook
from mlflow.tracking import MlflowClient

from mantik_jupyter.errors import UnavailableError
from mantik_jupyter.gateways import GatewayPool

DEADLINE = 5.0  # the server's gateway deadline here: a hung site is given up after it
SLEEPY = "import time\ntime.sleep(s)"


class MaintenancePage(http.server.BaseHTTPRequestHandler):
    """Every request: 200 with an HTML page, as a site under maintenance answers."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"<html><body><h1>Down for maintenance</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def html_gateway(process_simulator):
    """A gateway URL answering HTML; the simulator's faults are cleared afterwards."""
    html = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MaintenancePage)
    threading.Thread(target=html.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{html.server_address[1]}/api"
    html.shutdown()
    process_simulator.set_faults([])


@pytest.fixture
def jp_server_config(jp_server_config, process_simulator, server_home):
    """The server sees the process simulator where the sim presets look; a short deadline."""
    server_home.mkdir(parents=True, exist_ok=True)
    (server_home / "sim").symlink_to(process_simulator.config.root)
    jp_server_config["MantikJupyter"]["gateway_deadline"] = DEADLINE
    return jp_server_config


async def test_a_hung_and_an_html_site_stall_nothing_else(api, jp_root_dir, html_gateway,
                                                          process_simulator, mlflow_uri):
    make_notebook(jp_root_dir / "sleepy.ipynb", "s: int = 1", SLEEPY)
    # a job on each site (its run stays active here: the sites break before it ends); every
    # request about the UNICORE job hangs in the simulator, the FirecREST site's URL now
    # answers an HTML maintenance page
    hung = await api.submitted(await api.json(
        "POST", "runs", {"notebook": "sleepy.ipynb", "site": "sim-unicore",
                         "parameters": {"s": 15}}, expect=201))
    job_id = hung["remote_job_id"].rstrip("/").rsplit("/", 1)[1]
    process_simulator.set_faults([{"route": job_id, "latency": 900}])
    site = await api.json("POST", "sites", {"name": "maint", "base": "sim-firecrest"},
                          expect=201)
    maint = await api.submitted(await api.json(
        "POST", "runs", {"notebook": "sleepy.ipynb", "site": "maint",
                         "parameters": {"s": 15}}, expect=201))
    await api.json("PUT", "sites/maint", {"name": "maint", "kind": site["kind"],
                                          **site["settings"], "url": html_gateway})
    stuck = {"sim-unicore": hung["id"], "maint": maint["id"]}

    # another site's run is followed to its end and finalized while both sites misbehave
    local = await api.json("POST", "runs", {"notebook": "sleepy.ipynb"}, expect=201)
    done = await api.wait(local["id"], {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}, 240)
    assert done["state"] == "COMPLETED", done
    client = MlflowClient(tracking_uri=mlflow_uri)
    deadline = time.monotonic() + 120
    while client.get_run(done["mlflow_run_id"]).info.status != "FINISHED":
        assert time.monotonic() < deadline, "the local run was never finalized"
        await asyncio.sleep(0.2)

    # reads answer from the store; the broken sites' runs keep their last known state
    page = await api.json("GET", "runs")
    assert page["total"] == 3
    for run_id in stuck.values():
        assert (await api.json("GET", f"runs/{run_id}"))["state"] in {"QUEUED", "RUNNING"}

    # a request that must reach the hung site: 503 naming it (at once or after the deadline)
    for path in ("logs", "files"):
        body = json.loads((await api("GET", f"runs/{hung['id']}/{path}", expect=503)).body)
        assert body["reason"] == "site_unavailable", body
        assert "site 'sim-unicore'" in body["message"], body
    # a new submission to it is recorded at once, then refused before anything is sent:
    # FAILED, naming the site, no job
    refused = await api.submitted(await api.json(
        "POST", "runs", {"notebook": "sleepy.ipynb", "site": "sim-unicore"}, expect=201))
    assert refused["state"] == "FAILED" and refused["remote_job_id"] is None, refused
    assert "site 'sim-unicore' is not answering" in refused["reason"], refused
    assert (await api.json("GET", "runs"))["total"] == 4
    # the HTML site: 502 naming it and saying its answer could not be read
    body = json.loads((await api("GET", f"runs/{maint['id']}/files", expect=502)).body)
    assert "site 'maint'" in body["message"] and "could not be read" in body["message"], body
    test = await api.json("POST", "sites/maint/test")
    assert test["ok"] is False and "site 'maint'" in test["message"], test


def test_the_pool_bounds_a_hung_site_and_frees_it_when_its_call_ends():
    pool = GatewayPool(workers=3, per_site=2, deadline=0.2)
    release = threading.Event()
    with pytest.raises(UnavailableError, match="site 'a' did not answer within 0.2 s"):
        pool.call("a", "reading job states", release.wait)
    # while that call is stuck, the site is refused at once; other sites are served
    with pytest.raises(UnavailableError, match="site 'a' is not answering"):
        pool.call("a", "reading a log", lambda: b"")
    assert pool.call("b", "reading a log", lambda: b"ok") == b"ok"
    release.set()
    wait_until(lambda: not pool.in_flight("a"))
    assert pool.call("a", "reading a log", lambda: b"back") == b"back"
    # per site and in all: a bounded number of calls, the rest refused with a 503
    gate = threading.Event()
    calls = [pool.start("b", "x", gate.wait, deadline=60) for _ in range(2)]
    with pytest.raises(UnavailableError, match="site 'b' is busy: 2 calls"):
        pool.start("b", "x", gate.wait, deadline=60)
    calls.append(pool.start("c", "x", gate.wait, deadline=60))
    with pytest.raises(UnavailableError, match="all 3 gateway threads are busy"):
        pool.start("d", "x", gate.wait, deadline=60)
    gate.set()
    assert [pool.wait(c) for c in calls] == [True, True, True]
    # an unreadable answer is a 502 naming the site, not an exception that stops a sync
    with pytest.raises(Exception, match="site 'd': listing files failed: the gateway's answer "
                                        "could not be read \\(JSONDecodeError"):
        pool.call("d", "listing files", lambda: json.loads("<html>"))


def wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)
