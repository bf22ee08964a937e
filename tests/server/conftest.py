"""Server fixtures: a jupyter server with the extension, its own home, a shared MLflow."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from jupyter_server.auth import Authorizer
from openapi_check import check

from mantik_jupyter.server.handlers import ROUTES
from mantik_jupyter.states import RunState

#: every state after SUBMITTING
SUBMITTED = {s.value for s in RunState} - {RunState.SUBMITTING.value}


@pytest.fixture(scope="session")
def mlflow_uri(session_home: Path) -> str:
    """One MLflow store for every server test, its schema created here (it costs seconds,
    more on a loaded machine than a request's 20 s timeout leaves the first submit)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{session_home / 'server-mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()
    return uri


class RecordingAuthorizer(Authorizer):
    """Allows all but the actions in ``denied``; records every (method, path, action)."""

    denied: set[str] = set()
    asked: list[tuple[str, str, str]] = []

    def is_authorized(self, handler, user, action, resource) -> bool:
        RecordingAuthorizer.asked.append((handler.request.method, handler.request.path,
                                          action))
        return resource == "mantik" and action not in RecordingAuthorizer.denied


@pytest.fixture
def authorizer():
    """The server's authorizer; a test sets ``denied``, reset afterwards."""
    RecordingAuthorizer.asked.clear()
    yield RecordingAuthorizer
    RecordingAuthorizer.denied = set()
    RecordingAuthorizer.asked.clear()


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    return tmp_path / "mantik-home"


@pytest.fixture(scope="session")
def server_sim(slurm, session_home):
    """The simulator (Slurm executor) for the server tests' sim presets."""
    from mantik_jupyter.sim import Simulator

    sim = Simulator(session_home / "server-sim", port=0, executor="slurm",
                    slurm_conf=slurm).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim_home(server_sim, server_home):
    """The server's home sees the simulator where the sim presets look (``<home>/sim``)."""
    server_home.mkdir(parents=True, exist_ok=True)
    (server_home / "sim").symlink_to(server_sim.config.root)
    return server_sim


@pytest.fixture
def jp_server_config(server_home, mlflow_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return {
        "ServerApp": {"jpserver_extensions": {"mantik_jupyter": True},
                      "allow_unauthenticated_access": False,
                      "authorizer_class": RecordingAuthorizer},
        "MantikJupyter": {"home": str(server_home), "poll_min_interval": 0.2,
                          "poll_max_interval": 1.0},
    }


def template_of(path: str) -> str:
    """The OpenAPI path template of a concrete API path (after mantik/api)."""
    import re

    for pattern, _ in ROUTES:
        if re.fullmatch(pattern, path):
            return "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    raise AssertionError(f"no route for {path}")


class Api:
    """jp_fetch for mantik routes: JSON in and out, every response checked against the spec."""

    def __init__(self, fetch):
        self.fetch = fetch
        self.bodies: list[bytes] = []

    async def __call__(self, method: str, path: str, body=None, params=None, expect=None):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = "{}"
        response = await self.fetch("mantik", "api", *path.split("/"), params=params, **kwargs)
        self.bodies.append(response.body)
        check(method, template_of(path), response.code, response.body)
        if expect is not None:
            assert response.code == expect, (response.code, response.body)
        assert b"Traceback" not in response.body
        return response

    async def json(self, method: str, path: str, body=None, params=None, expect=200):
        response = await self(method, path, body, params, expect)
        return json.loads(response.body) if response.body else None

    async def submitted(self, run: dict, timeout: float = 300) -> dict:
        """The run once its submission (in the server's background) has ended."""
        return await self.wait(run["id"], SUBMITTED, timeout)

    async def wait(self, run_id: str, states: set[str], timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = await self.json("GET", f"runs/{run_id}")
            if run["state"] in states:
                return run
            assert time.monotonic() < deadline, f"run stayed {run['state']}"
            await asyncio.sleep(0.2)


@pytest.fixture
def api(jp_fetch) -> Api:
    return Api(jp_fetch)
