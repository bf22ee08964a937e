"""mantik-jupyter on a real JupyterHub: the README's ``jupyterhub_config.py`` snippet, the
hub's own proxy (configurable-http-proxy from npm), users logging in through the hub's REST
API, and their single-user servers spawned as local processes.

A kernel of Alice's server must reach that server's REST API with Alice's own hub token (the
server's ``JUPYTERHUB_API_TOKEN``), which her local jobs must not get; Bob's server, spawned
beside hers, must refuse her token.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import requests
from slurm_fixtures import unavailable
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

REPO = Path(__file__).resolve().parent.parent.parent
PROXY_PACKAGE = "configurable-http-proxy@5"
PASSWORD = "hub-test-password"  # noqa: S105 - the throwaway shared password of a test hub
USERS = ("alice", "bob")
NOTEBOOK = "work/hub.ipynb"
SUBMIT_CELL = "%%mantik_submit --site local --wait -p n=2\nResources: {Runtime: 5m}\n"
JOB_CELL = ("import os\nprint('n is', n)\n"
            "print('hub token in job:', any(v in os.environ for v in "
            "('JUPYTERHUB_API_TOKEN', 'JPY_API_TOKEN', 'MANTIK_JUPYTER_TOKEN')))")


def readme_snippet() -> str:
    """The ``jupyterhub_config.py`` lines of the README's JupyterHub section."""
    section = (REPO / "README.md").read_text().split("## On JupyterHub", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def proxy_command() -> str:
    """configurable-http-proxy, installed from npm into this environment when missing."""
    command = Path(sys.prefix) / "bin" / "configurable-http-proxy"
    if not command.exists():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm (Node 20) is needed to install configurable-http-proxy",
                        need="JupyterHub's proxy")
        proc = subprocess.run([npm, "install", "--global", "--prefix", sys.prefix, "--no-audit",
                               "--no-fund", PROXY_PACKAGE], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0 or not command.exists():
            unavailable(f"npm install {PROXY_PACKAGE} failed ({proc.returncode}): "
                        f"{proc.stderr[-2000:]}", need="JupyterHub's proxy")
    return str(command)


class Hub:
    """A ``jupyterhub`` process configured by the README snippet plus this test's lines."""

    def __init__(self, folder: Path, proxy: str):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.folder = folder
        self.log_path = folder / "hub.log"
        root_flag = ["--allow-root"] if os.geteuid() == 0 else []
        config = readme_snippet() + f"""
# the test's hub: loopback ports, a shared password, servers as local processes
c.JupyterHub.bind_url = {self.url!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{folder / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(folder / 'cookie_secret')!r}
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {PASSWORD!r}
c.Authenticator.allowed_users = {set(USERS)!r}  # the hub creates them
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(folder / 'users' / '{username}')!r}
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.start_timeout = c.Spawner.http_timeout = 300
c.Spawner.args += {root_flag!r} + ["--MantikJupyter.poll_min_interval=0.2",
                                  "--MantikJupyter.poll_max_interval=1"]
"""
        (folder / "jupyterhub_config.py").write_text(config)
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_until(self, ready, timeout: float, what: str) -> None:
        """Poll ``ready()`` until true; fail with the hub's log after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log_text()
            try:
                if ready():
                    return
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy
                pass
            assert time.monotonic() < deadline, f"{what}:\n{self.log_text()}"
            time.sleep(0.3)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def login(self, name: str) -> requests.Session:
        """Log ``name`` in through the hub's REST API; a session sending their new token."""
        answer = requests.post(f"{self.url}/hub/api/users/{name}/tokens", timeout=60,
                               json={"auth": {"username": name, "password": PASSWORD},
                                     "note": "hub test", "expires_in": 3600})
        assert answer.status_code == 201, answer.text
        session = requests.Session()
        session.headers["Authorization"] = f"token {answer.json()['token']}"
        return session

    def start(self, name: str, session: requests.Session) -> None:
        """Ask the hub to spawn ``name``'s single-user server."""
        answer = session.post(f"{self.url}/hub/api/users/{name}/server", timeout=60)
        assert answer.status_code in (201, 202), answer.text

    def server_url(self, name: str, session: requests.Session) -> str:
        """Once ``name``'s server is ready: its URL behind the hub's proxy."""
        user = f"{self.url}/hub/api/users/{name}"
        self.wait_until(lambda: (session.get(user, timeout=30).json()["servers"].get("") or {})
                        .get("ready"), 300, f"{name}'s server did not start")
        return f"{self.url}/user/{name}/"

    def stop(self) -> None:
        self.proc.terminate()  # the hub stops the users' servers and its proxy
        self.proc.wait(timeout=60)
        self.log.close()


@pytest.fixture
def hub(tmp_path: Path, proxy_command: str) -> Iterator[Hub]:
    started = Hub(tmp_path, proxy_command)
    try:
        started.wait_until(lambda: requests.get(f"{started.url}/hub/api/", timeout=5).ok, 300,
                           "the hub did not answer")
        yield started
    finally:
        started.stop()


class KernelSocket:
    """A kernel of a single-user server, driven over its websocket through the hub's proxy."""

    def __init__(self, server_url: str, kernel_id: str, token: str):
        self.loop = asyncio.new_event_loop()
        url = server_url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
        request = HTTPRequest(url, headers={"Authorization": f"token {token}"})

        async def connect() -> WebSocketClientConnection:
            return await websocket_connect(request)

        self.socket = self.loop.run_until_complete(connect())
        self.session = uuid.uuid4().hex

    def run(self, code: str, timeout: float = 300) -> tuple[str, str]:
        """Execute ``code``; its status and everything it printed or returned."""
        return self.loop.run_until_complete(asyncio.wait_for(self._run(code), timeout))

    async def _run(self, code: str) -> tuple[str, str]:
        msg_id = uuid.uuid4().hex
        self.socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                       "username": "test", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        output, status, idle = [], None, False
        while status is None or not idle:
            raw = await self.socket.read_message()
            assert raw is not None, "the kernel's websocket closed"
            msg = json.loads(raw)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_reply":
                status = content["status"]
            elif kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "stream":
                output.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                output.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                output.append("\n".join(content["traceback"]))
        return status, "".join(output)

    def close(self) -> None:
        self.socket.close()
        self.loop.close()


def open_kernel(server: str, http: requests.Session) -> KernelSocket:
    """Put the notebook on the server, open a session for it (as the lab does), connect."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n: int = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("%load_ext mantik_magics"),
                nbformat.v4.new_code_cell(SUBMIT_CELL), nbformat.v4.new_code_cell(JOB_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for path, model in (("work", {"type": "directory"}),
                        (NOTEBOOK, {"type": "notebook", "format": "json", "content": nb})):
        answer = http.put(f"{server}api/contents/{path}", json=model, timeout=60)
        assert answer.status_code in (200, 201), answer.text
    answer = http.post(f"{server}api/sessions", timeout=120, json={
        "path": NOTEBOOK, "name": "hub.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert answer.status_code == 201, answer.text
    token = http.headers["Authorization"].split()[1]
    return KernelSocket(server, answer.json()["kernel"]["id"], token)


def api(http: requests.Session, url: str, bodies: list[bytes]) -> dict:
    """GET a mantik REST route; keeps the body to search it for tokens."""
    answer = http.get(url, timeout=60)
    assert answer.status_code == 200, (url, answer.status_code, answer.text)
    bodies.append(answer.content)
    return answer.json()


def check_rest(http: requests.Session, mantik: str, bodies: list[bytes]) -> None:
    """A user's mantik REST API through the hub's proxy: the README's admin sites, no runs."""
    sites = {s["name"]: s for s in api(http, mantik + "sites", bodies)["sites"]}
    assert {n: sites[n]["origin"] for n in ("juwels", "jureca", "daint", "local")} == {
        "juwels": "admin", "jureca": "admin", "daint": "admin", "local": "preset"}
    assert sites["juwels"]["settings"]["credentials"] == {"source": "jupyterhub"}
    assert api(http, mantik + "config", bodies)["defaults"]["site"] == "juwels"
    assert api(http, mantik + "runs", bodies)["runs"] == []


def refused(http: requests.Session | None, url: str) -> bool:
    """Whether the server refuses ``url`` to ``http`` (None: a request without a token)."""
    answer = (http or requests).get(url, timeout=60)
    return answer.status_code == 403 and b'"runs"' not in answer.content


def test_mantik_jupyter_on_a_real_jupyterhub(hub: Hub):
    logins = {name: hub.login(name) for name in USERS}
    for name, http in logins.items():  # both spawn at once
        hub.start(name, http)
    alice, bob = (hub.server_url(name, http) + "mantik/api/" for name, http in logins.items())
    http, bodies = logins["alice"], []
    check_rest(http, alice, bodies)
    check_rest(logins["bob"], bob, bodies)
    assert refused(None, alice + "runs") and refused(None, bob + "runs")
    assert refused(http, bob + "runs")  # Alice's token is good for her server only

    # a kernel of Alice's server runs the magics against it
    kernel = open_kernel(alice.removesuffix("mantik/api/"), http)
    try:
        status, out = kernel.run("%load_ext mantik_magics\n%mantik_sites")
        assert status == "ok", out
        assert re.search(r"^juwels\s", out, re.MULTILINE), out
        status, out = kernel.run(
            "import json, os, urllib.request\n"
            "request = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/user', "
            "headers={'Authorization': 'token ' + os.environ['MANTIK_JUPYTER_TOKEN']})\n"
            "print(json.load(urllib.request.urlopen(request))['name'])\n"
            "os.environ['MANTIK_JUPYTER_URL']")
        assert status == "ok", out
        assert out.splitlines()[0] == "alice"  # the token kernels get is the user's own
        assert "/user/alice/" in out.splitlines()[1]
        token = kernel.run("os.environ['MANTIK_JUPYTER_TOKEN']")[1].strip().strip("'")
        assert len(token) >= 16

        status, out = kernel.run(SUBMIT_CELL)
        assert status == "ok", out
        assert "through the Jupyter server at http://127.0.0.1:" in out
        completed = re.search(r"^run (\S+): COMPLETED$", out, re.MULTILINE)
        assert completed, out
        run_id = completed.group(1)
        run = api(http, f"{alice}runs/{run_id}", bodies)
        assert run["site"] == "local" and run["parameters"] == {"n": 2}
        assert run["notebook"].endswith(f"/users/alice/{NOTEBOOK}")
        log = api(http, f"{alice}runs/{run_id}/logs", bodies)["data"]
        assert "n is 2" in log and "hub token in job: False" in log
        status, out = kernel.run("runs = %mantik_runs\n[(r['id'], r['state']) for r in runs]")
        assert (status, out) == ("ok", f"[('{run_id}', 'COMPLETED')]\n")
        assert [r["id"] for r in api(http, alice + "runs", bodies)["runs"]] == [run_id]
    finally:
        kernel.close()

    # the token is in no REST answer, no log, nothing Alice's runs wrote
    assert all(token.encode() not in body for body in bodies)
    assert token not in hub.log_path.read_text(errors="replace")
    mantik_home = hub.folder / "users" / "alice" / ".local" / "share" / "jupyter" / "mantik"
    assert (mantik_home / "runs" / run_id).is_dir()
    for path in mantik_home.rglob("*"):  # run store, MLflow, job scripts, logs, bundles
        assert not path.is_file() or token.encode() not in path.read_bytes(), path
