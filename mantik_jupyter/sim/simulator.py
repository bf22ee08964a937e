"""Run the simulator in a background thread: the Python API used by tests, the demo and the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import urllib.request
from pathlib import Path
from typing import Any

from .config import HOST, MAX_BODY, SimConfig
from .faults import FaultRule, Faults

STATE_FILE = "sim.json"
#: the credentials of the running simulator, owner-only (the state file holds no secret)
LOGIN_FILE = "login.json"
#: How often the site looks for held jobs whose start time has come.
RELEASE_INTERVAL_MS = 1000


class Simulator:
    """A local HPC site on 127.0.0.1: ``Simulator(root, port=0, executor="slurm").start()``.

    Keyword settings are those of SimConfig (credentials, systems, token_lifetime, ...).
    ``faults`` are the initial fault rules; change them later with ``set_faults``.
    """

    def __init__(self, root: str | Path | None = None, *, faults: list[FaultRule | dict] = (),
                 seed: int | None = None, **settings: Any) -> None:
        self.config = SimConfig(**({"root": root} if root else {}), **settings)
        self._faults = Faults([_rule(r) for r in faults], seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.site = None
        self.port = self.config.port

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind the port, serve in a daemon thread and write the state file; returns self."""
        from tornado.httpserver import HTTPServer
        from tornado.ioloop import PeriodicCallback
        from tornado.netutil import bind_sockets

        from .app import make_app
        from .site import Site
        from .unicore import release_due

        self.site = Site(self.config, self._faults)
        sockets = bind_sockets(self.config.port, HOST)
        self.port = sockets[0].getsockname()[1]
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            server = HTTPServer(make_app(self.site), max_body_size=MAX_BODY)
            server.add_sockets(sockets)
            # the site's own clock: held UNICORE jobs go to the batch system on time
            PeriodicCallback(lambda: release_due(self.site), RELEASE_INTERVAL_MS).start()
            self._loop.call_soon(ready.set)
            self._loop.run_forever()
            server.stop()
            self._loop.run_until_complete(server.close_all_connections())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="mantik-sim", daemon=True)
        self._thread.start()
        ready.wait(10)
        self._write_state()
        return self

    def stop(self) -> None:
        """Stop serving (Slurm jobs live on; local process jobs are killed) and forget the state."""
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None
        if self.site:
            self.site.executor.stop()
        if read_state(self.config.root).get("pid") == os.getpid():
            (self.config.root / STATE_FILE).unlink(missing_ok=True)
            (self.config.root / LOGIN_FILE).unlink(missing_ok=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def state(self) -> dict:
        """What the state file records: pid, port, executor (and why), URLs; no secrets."""
        return {"pid": os.getpid(), "port": self.port, "executor": self.executor,
                "notice": self.notice, "urls": self.urls(), "systems": list(self.config.systems)}

    def login(self) -> dict:
        """Who may log in: user and password (UNICORE), client id and secret (FirecREST)."""
        config = self.config
        return {"username": config.username, "password": config.password,
                "client_id": config.client_id, "client_secret": config.client_secret}

    def _write_state(self) -> None:
        """The login file (owner-only), then the state file that says the simulator runs."""
        from mantik_jupyter.paths import write_atomic

        self.config.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.config.root / LOGIN_FILE, json.dumps(self.login()), mode=0o600)
        write_atomic(self.config.root / STATE_FILE, json.dumps(self.state()))

    # -- where it is --------------------------------------------------------------------------
    @property
    def executor(self) -> str:
        """``slurm`` or ``process``: what jobs really run on."""
        return self.site.executor.name if self.site else self.config.executor

    @property
    def notice(self) -> str | None:
        """Why the process executor is used although Slurm was wanted (None otherwise)."""
        return self.site.notice if self.site else None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def unicore_url(self) -> str:
        """UNICORE REST base of the site."""
        return f"{self.url}/{self.config.site}/rest/core"

    @property
    def firecrest_url(self) -> str:
        """FirecREST v2 base."""
        return f"{self.url}/firecrest/v2"

    @property
    def token_url(self) -> str:
        """OIDC token endpoint for client credentials."""
        return f"{self.url}/auth/token"

    @property
    def jwks_path(self) -> Path:
        """The JWKS file of the key the tokens are signed with (a FirecREST ``publicCerts``)."""
        return self.site.auth.signer.jwks_path

    def urls(self) -> dict[str, str]:
        """All three base URLs by name."""
        return {"unicore": self.unicore_url, "firecrest": self.firecrest_url,
                "token": self.token_url}

    # -- fault controls (the same as the /_sim routes) -------------------------------------
    def set_faults(self, rules: list[FaultRule | dict]) -> None:
        """Replace the fault rules (empty list: no faults)."""
        self._faults.replace([_rule(r) for r in rules])

    @property
    def faults(self) -> dict:
        """Rules and counters of injected faults."""
        return self._faults.snapshot()

    def expire_tokens(self) -> None:
        """Every token issued so far stops working."""
        self.site.auth.expire_all()

    def kill_job(self, job_id: str) -> None:
        """SIGKILL a job from outside (UNICORE or FirecREST id)."""
        self._admin("POST", f"/_sim/jobs/{job_id}/kill")

    def fail_node(self) -> None:
        """The compute node dies: running jobs end NODE_FAIL."""
        self._admin("POST", "/_sim/node/fail")

    def jobs(self) -> list[dict]:
        """Every job record of both gateways (what the site really created)."""
        return json.loads(self._admin("GET", "/_sim/jobs"))["jobs"]

    def _admin(self, method: str, path: str) -> bytes:
        """Call a ``/_sim`` control in the server's own thread (HTTPError on failure)."""
        login = f"{self.config.username}:{self.config.password}".encode()
        request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
            self.url + path, method=method, data=b"" if method == "POST" else None,
            headers={"Authorization": "Basic " + base64.b64encode(login).decode()},
        )
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 - loopback
            return resp.read()


def _rule(rule: FaultRule | dict) -> FaultRule:
    return rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule)


def read_state(root: Path) -> dict:
    """The state file of a simulator running on ``root`` ({} when none)."""
    return _read_json(root / STATE_FILE)


def read_login(root: Path) -> dict:
    """The credentials of the simulator on ``root`` if it still runs ({} otherwise: a
    simulator killed without a stop leaves its files, and another program may hold its
    port by now)."""
    from mantik_jupyter.processes import alive

    pid = read_state(root).get("pid")
    return _read_json(root / LOGIN_FILE) if isinstance(pid, int) and alive(pid) else {}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
