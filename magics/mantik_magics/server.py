"""HTTP to the Jupyter server that started this kernel, with the standard library only.

Every request carries ``Authorization: token <TOKEN>``; a JSON error body
``{reason, message, details}`` becomes a :class:`ClientError` with the server's message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from .errors import ClientError

TIMEOUT = 60
#: a submission answers once the bundle is uploaded and the job started: minutes on HPC
SUBMIT_TIMEOUT = 900


class JupyterServer:
    """A Jupyter server at ``base_url`` (ending with ``/``), reached with ``token``."""

    def __init__(self, base_url: str, token: str | None):
        if not base_url.startswith(("http://", "https://")):
            raise ClientError(f"the Jupyter server URL {base_url!r} is not an http(s) URL",
                              key="url")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.token = token

    def open(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float = TIMEOUT,
    ) -> Any:
        """Send a request to ``base_url + path``; returns the open response (a file object)."""
        query = urllib.parse.urlencode(
            [(k, v) for k, v in (params or {}).items() if v is not None], doseq=True
        )
        url = self.base_url + path + (f"?{query}" if query else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        # the base URL is http(s), checked in __init__
        request = urllib.request.Request(url, data=data, headers=headers,  # noqa: S310
                                         method=method)
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise _error_of(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError(
                f"cannot reach the Jupyter server at {self.base_url}: {reason}",
                reason="unreachable",
            ) from None

    def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float = TIMEOUT,
    ) -> Any:
        """Send a request and decode its JSON answer (None for an empty one, e.g. 204)."""
        with self.open(method, path, params=params, body=body, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None


def _error_of(exc: urllib.error.HTTPError) -> ClientError:
    """The server's own message from a JSON error body, else the HTTP status line."""
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    message = body.get("message") or f"the Jupyter server answered {exc.code} {exc.reason}"
    return ClientError(str(message), key=details.get("key"), reason=body.get("reason", "http"),
                       status=exc.code, details=details)
