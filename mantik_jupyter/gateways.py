"""Gateway calls in a bounded pool of their own, each waited for at most a deadline.

A site that accepts connections and never answers would otherwise hold a thread for as
long as its HTTP client keeps retrying (minutes). Here each call runs in a daemon thread of
a bounded pool; its caller waits at most the deadline and then gets a 503 naming the site.
While a call that passed its deadline is still stuck, the site is refused at once, so a
hung site costs at most ``per_site`` threads and never the server's reads, its poller or the
other sites. A site answering something unreadable (an HTML maintenance page) is a 502
naming the site, never an exception that stops a sync of every site.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import BackendError, MantikError, UnavailableError
from .progress import NO_PROGRESS

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds a caller waits for a site's answer (status, log, file list, test, cancel).
DEADLINE = 30.0
#: Seconds a caller waits for a download (results and user downloads may be large).
TRANSFER_DEADLINE = 900.0
WORKERS = 32
PER_SITE = 4  # the poller, a log tail, a listing and a download at once


@dataclass(eq=False)  # each call is itself (kept in a set)
class _Call:
    site: str
    what: str
    deadline: float
    owner: object = None  # the backend that made it: an edited site gets a fresh budget
    started: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)

    @property
    def overdue(self) -> bool:
        return time.monotonic() - self.started > self.deadline


class GatewayPool:
    """At most ``workers`` gateway calls at once, at most ``per_site`` per site."""

    def __init__(self, workers: int = WORKERS, per_site: int = PER_SITE,
                 deadline: float = DEADLINE, transfer_deadline: float = TRANSFER_DEADLINE):
        if workers < 1 or per_site < 1 or deadline <= 0 or transfer_deadline <= 0:
            raise MantikError("the gateway pool needs workers and per_site of 1 or more and "
                              "positive deadlines", key="gateway")
        self.workers, self.per_site = workers, per_site
        self.deadline, self.transfer_deadline = deadline, transfer_deadline
        self._calls: set[_Call] = set()
        self._lock = threading.Lock()

    def start(self, site: str, what: str, fn: Callable[[], T],
              deadline: float | None = None, owner: object = None) -> _Call:
        """Begin ``fn()`` in a pool thread, or refuse at once (503) when the site is stuck,
        has ``per_site`` calls waiting, or the pool is full."""
        with self._lock:
            self.refuse_if_stuck(site, owner)
            mine = self._of(site, owner)
            if len(mine) >= self.per_site:
                raise UnavailableError(
                    f"site {site!r} is busy: {len(mine)} calls to it are still waiting for "
                    "an answer; try again shortly", key="site")
            if len(self._calls) >= self.workers:
                raise UnavailableError(
                    f"cannot reach site {site!r} now: all {self.workers} gateway threads are "
                    "busy with other sites; try again shortly", key="site")
            call = _Call(site, what, self.deadline if deadline is None else deadline, owner)
            self._calls.add(call)
        threading.Thread(target=self._run, args=(call, fn), daemon=True,
                         name=f"mantik-gateway-{site}").start()
        return call

    def wait(self, call: _Call) -> Any:
        """The call's result, or a 503 naming the site once its deadline passed."""
        remaining = call.deadline - (time.monotonic() - call.started)
        try:
            return call.future.result(timeout=max(remaining, 0.0))
        except FutureTimeout:
            raise UnavailableError(
                f"site {call.site!r} did not answer within {call.deadline:g} s while "
                f"{call.what}; it is refused until that call ends", key="site") from None

    def call(self, site: str, what: str, fn: Callable[[], T],
             deadline: float | None = None, owner: object = None) -> T:
        """``fn()`` for ``site`` through the pool, waited for at most the deadline."""
        return self.wait(self.start(site, what, fn, deadline, owner))

    def in_flight(self, site: str, owner: object = None) -> int:
        """How many calls to ``site`` are running now."""
        return len(self._of(site, owner))

    def refuse_if_stuck(self, site: str, owner: object = None) -> None:
        """503 at once while a call to ``site`` that passed its deadline still waits."""
        stuck = [c for c in self._of(site, owner) if c.overdue]
        if stuck:
            oldest = max(time.monotonic() - c.started for c in stuck)
            raise UnavailableError(
                f"site {site!r} is not answering: a call to it ({stuck[0].what}) has waited "
                f"{oldest:.0f} s; it is refused until that call ends", key="site")

    def _of(self, site: str, owner: object) -> list[_Call]:
        return [c for c in list(self._calls) if c.site == site and c.owner is owner]

    def _run(self, call: _Call, fn: Callable[[], Any]) -> None:
        try:
            call.future.set_result(fn())
        except MantikError as exc:
            call.future.set_exception(exc)
        except Exception as exc:  # noqa: BLE001 - an unreadable answer must not stop a sync
            log.warning("site %s: %s failed unexpectedly", call.site, call.what, exc_info=True)
            text = " ".join(str(exc).split())[:300]
            call.future.set_exception(BackendError(
                f"site {call.site!r}: {call.what} failed: the gateway's answer could not be "
                f"read ({type(exc).__name__}: {text}); is the site's URL a gateway?",
                key="site"))
        finally:
            with self._lock:
                self._calls.discard(call)


class GuardedBackend:
    """A backend whose gateway calls go through a :class:`GatewayPool`; the same interface
    (other attributes are the backend's own)."""

    def __init__(self, backend: Any, pool: GatewayPool):
        self.backend = backend
        self.pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def _call(self, what: str, fn: Callable[[], T], deadline: float | None = None) -> T:
        return self.pool.call(self.backend.site.name, what, fn, deadline, self)

    def start_status(self, runs: list) -> _Call:
        """Begin asking for these runs' job statuses (the poller waits on many sites at once)."""
        return self.pool.start(self.backend.site.name, "reading job states",
                               lambda: self.backend.status(runs), owner=self)

    def submit(self, job: Any) -> Any:
        # a submit is not cut short (that would orphan a job); a hung site refuses it first
        self.pool.refuse_if_stuck(self.backend.site.name, self)
        return self.backend.submit(job)

    def submit_array(self, job: Any, points: list[int]) -> Any:
        # a sweep's array, as a submit: never cut short, refused first by a hung site
        self.pool.refuse_if_stuck(self.backend.site.name, self)
        return self.backend.submit_array(job, points)

    def check(self) -> str:
        return self._call("testing the connection", self.backend.check)

    def find(self, run: Any) -> Any:
        return self._call("looking for a job", lambda: self.backend.find(run))

    def status(self, runs: list) -> dict:
        return self.pool.wait(self.start_status(runs))

    def cancel(self, run: Any) -> None:
        return self._call("cancelling a job", lambda: self.backend.cancel(run))

    def cancel_points(self, runs: list) -> None:
        return self._call("cancelling a sweep's jobs", lambda: self.backend.cancel_points(runs))

    def read_log(self, run: Any, offset: int, limit: int | None = None) -> bytes:
        return self._call("reading a log", lambda: self.backend.read_log(run, offset, limit))

    def list_files(self, run: Any, path: str = "") -> list:
        return self._call("listing files", lambda: self.backend.list_files(run, path))

    def download(self, run: Any, path: str, dest: Path, progress: Any = NO_PROGRESS) -> Path:
        return self._call("downloading",
                          lambda: self.backend.download(run, path, dest, progress),
                          self.pool.transfer_deadline)

    def delete(self, run: Any) -> None:
        return self._call("deleting a run folder", lambda: self.backend.delete(run))
