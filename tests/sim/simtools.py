"""Helpers of the simulator tests: FirecREST spec checking, real clients, polling."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml
from jsonschema import Draft202012Validator

SPEC_FILE = Path(__file__).parent / "spec" / "firecrest-v2-openapi-2.5.6.yaml"


@functools.cache
def firecrest_spec() -> dict:
    """The vendored spec, parsed once per session (parsing took ~1 s per test; read only)."""
    return yaml.load(SPEC_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class SpecChecker:
    """Validates FirecREST answers against the vendored OpenAPI spec (status, body schema)."""

    def __init__(self, base_url: str) -> None:
        self.spec = firecrest_spec()
        self.base_path = urlsplit(base_url).path.rstrip("/")
        self.paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"), template, ops)
            for template, ops in self.spec["paths"].items()
        ]
        self.checked = 0
        # "METHOD template" of each operation checked: what a test made, however often it
        # polled (a count would depend on how fast the jobs ran)
        self.operations: set[str] = set()

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        """The spec's path template and operation for a request, or AssertionError if the
        spec has none."""
        for pattern, template, ops in self.paths:
            if pattern.match(path) and method.lower() in ops:
                return template, ops[method.lower()]
        raise AssertionError(f"{method} {path} is not an operation of the FirecREST spec")

    def check(self, method: str, url: str, status: int, content_type: str, body: bytes) -> None:
        """AssertionError unless the status is documented and the JSON body fits its schema."""
        path = urlsplit(url).path[len(self.base_path):]
        template, operation = self.operation(method, path)
        responses = operation["responses"]
        entry = responses.get(str(status)) or responses.get(f"{status // 100}XX")
        assert entry is not None, f"{method} {path}: status {status} is not in the spec"
        schema = entry.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            assert not body, f"{method} {path} {status}: the spec defines no body"
        elif schema:
            assert content_type.startswith("application/json"), content_type
            document = json.loads(body)
            validator = Draft202012Validator({**schema, "components": self.spec["components"]})
            errors = sorted(validator.iter_errors(document), key=str)
            assert not errors, f"{method} {path} {status}: {errors[0].message} in {document}"
        self.checked += 1
        self.operations.add(f"{method.upper()} {template}")

    def sync_hook(self, response: httpx.Response) -> None:
        """httpx response hook for sync clients."""
        response.read()
        self._check(response)

    async def async_hook(self, response: httpx.Response) -> None:
        """httpx response hook for async clients."""
        await response.aread()
        self._check(response)

    def _check(self, response: httpx.Response) -> None:
        request = response.request
        if urlsplit(str(request.url)).path.startswith(self.base_path + "/"):
            self.check(request.method, str(request.url), response.status_code,
                       response.headers.get("content-type", ""), response.content)


def firecrest_client(server, checker: SpecChecker, *, is_async: bool = False):
    """A real pyfirecrest v2 client for ``server`` whose every answer is checked by ``checker``."""
    from firecrest import ClientCredentialsAuth
    from firecrest.v2 import AsyncFirecrest, Firecrest

    auth = ClientCredentialsAuth(server.config.client_id, server.config.client_secret,
                                 server.token_url)
    client = (AsyncFirecrest if is_async else Firecrest)(server.firecrest_url, auth)
    hook = checker.async_hook if is_async else checker.sync_hook
    client._session.event_hooks["response"].append(hook)
    return client


def fresh_dir(server, name: str, system: str = "daint-sim") -> str:
    """A new, uniquely named folder in a FirecREST system's home directory."""
    path = server.site.filesystems(system)["users"] / f"{name}-{time.time_ns()}"
    path.mkdir()
    return str(path)


def token(server) -> str:
    """A fresh access token for the demo client from the token endpoint."""
    resp = httpx.post(server.token_url, data={
        "grant_type": "client_credentials", "client_id": server.config.client_id,
        "client_secret": server.config.client_secret,
    })
    assert resp.status_code == 200, resp.text
    assert resp.json()["expires_in"] == server.site.auth.lifetime
    return resp.json()["access_token"]


def wait_for(predicate: Callable[[], object], timeout: float = 300, interval: float = 0.2):
    """Poll until ``predicate()`` is truthy and return it; AssertionError after ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
