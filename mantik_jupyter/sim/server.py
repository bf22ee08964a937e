"""Shared handler behaviour of every simulator route (faults, auth, JSON errors), and the
count of the requests the gateways answered."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import tornado.ioloop
import tornado.web

from .faults import Decision
from .site import Site


class SimHandler(tornado.web.RequestHandler):
    """Base of every route: injects faults, checks credentials, answers in the API's format."""

    #: Basic login accepted besides Bearer tokens (UNICORE yes, FirecREST no).
    allow_basic = False
    #: Routes open without credentials (token endpoint, liveness).
    public = False
    #: Fault rules apply (not to the simulator's own controls).
    faultable = True
    #: The body is read as it arrives (:class:`StreamedBody`).
    streamed = False

    def initialize(self, site: Site) -> None:
        """Every handler works on the one site."""
        self.site = site
        self._lose_reply = False
        self._reply_latency = 0.0
        self._bandwidth = 0.0
        self._holding = False
        self._parts: list[bytes] = []
        self._fault: tuple[int, str] | None = None

    def error_body(self, status: int, message: str) -> dict:
        """The API's JSON error document."""
        return {"message": message}

    async def prepare(self) -> None:
        """Apply the fault rules for this route, then demand credentials."""
        decision = (self.site.faults.decide(self.request.method, self.request.path)
                    if self.faultable else Decision())
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.drop:
            self.request.connection.stream.close()
            raise tornado.web.Finish()
        if decision.status:
            if decision.retry_after is not None:
                self.set_header("Retry-After", str(decision.retry_after))
            message = "Too many requests" if decision.status == 429 else "Injected server error"
            if self.streamed and self.request.headers.get("Content-Length", "0") != "0":
                # answered once the body has arrived, as a server that read it: answering
                # first and closing broke the client's pipe mid-send instead
                self._fault = (decision.status, message)
                return
            self.fail(decision.status, message)
        self._lose_reply = decision.lose_reply
        self._reply_latency = decision.reply_latency
        self._bandwidth = decision.bandwidth
        refusal = None if self.public else self.site.auth.refusal(
            self.request.headers.get("Authorization"), self.allow_basic)
        if refusal:
            self.fail(401, refusal)

    def fail(self, status: int, message: str) -> None:
        """Answer an error in the API's format and stop handling the request."""
        self.send_json(status, self.error_body(status, message))
        raise tornado.web.Finish()

    def send_json(self, status: int, body: Any) -> None:
        """Answer a JSON document."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def no_content(self) -> None:
        """Answer 204 without a body."""
        self.set_status(204)
        self.finish()

    def json_body(self) -> Any:
        """The request body as JSON, or a 400 naming the parse error."""
        try:
            return json.loads(self.request.body or b"{}")
        except ValueError as exc:
            self.fail(400, f"Malformed JSON in request body: {exc}")

    def finish(self, chunk: Any = None) -> Any:
        """Send the reply, unless a lost-reply fault says to drop the connection instead or
        a reply-latency fault to send it later."""
        if self._lose_reply:
            self._lose_reply = False
            self._abandon()
            return None
        if self._reply_latency:
            delay, self._reply_latency, self._holding = self._reply_latency, 0.0, True
            tornado.ioloop.IOLoop.current().call_later(delay, self._send_held, chunk)
        if self._holding:  # also tornado's own finish() once the handler has returned
            return None
        return super().finish(chunk)

    def _send_held(self, chunk: Any) -> None:
        """Send a reply held back by a reply-latency fault (if its client still waits)."""
        self._holding = False
        if self.request.connection.stream.closed():
            self._abandon()
        else:
            self.finish(chunk)

    def _abandon(self) -> None:
        """Close the connection without an answer and end the request."""
        self.request.connection.stream.close()
        self._finished = True
        self.on_finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Unexpected exceptions still answer the API's error format (never a traceback)."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.error_body(status_code, self._reason)))


@tornado.web.stream_request_body
class StreamedBody(SimHandler):
    """A route whose request body is read as it arrives, at the pace of a ``bandwidth``
    fault (uploads): its methods read the body with :meth:`received`, which also answers
    an error fault injected for a request with a body."""

    async def data_received(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        if self._bandwidth:
            await asyncio.sleep(len(chunk) / self._bandwidth)

    streamed = True

    def received(self) -> bytes:
        """The whole request body (or the fault injected for this request, now)."""
        if self._fault is not None:
            self.fail(*self._fault)
        return b"".join(self._parts)


class GatewayRequests(logging.Handler):
    """The paths the simulators of this process answered, read from tornado's access log,
    so tests and benchmarks count what a client costs the gateway where the gateway sees it.

    ``with GatewayRequests() as requests:`` listens for the block; tornado writes each line
    just after its reply, so wait a moment after a call before counting it.
    """

    _REQUEST = re.compile(r"(?:GET|POST|PUT|PATCH|DELETE|HEAD) (\S+)")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.paths: list[str] = []
        self._log = logging.getLogger("tornado.access")
        self._saved = (logging.NOTSET, True)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the path of a request line."""
        match = self._REQUEST.search(record.getMessage())
        if match:
            self.paths.append(match.group(1))

    def count(self, prefix: str) -> int:
        """Requests whose path starts with ``prefix`` (``/firecrest/``, ``/DEMO-SITE/``)."""
        return sum(1 for path in self.paths if path.startswith(prefix))

    def __enter__(self) -> GatewayRequests:
        self._saved = (self._log.level, self._log.propagate)
        self._log.addHandler(self)
        self._log.setLevel(logging.INFO)
        self._log.propagate = False  # the INFO lines are counted here, not printed
        return self

    def __exit__(self, *exc: object) -> None:
        self._log.removeHandler(self)
        self._log.setLevel(self._saved[0])
        self._log.propagate = self._saved[1]
