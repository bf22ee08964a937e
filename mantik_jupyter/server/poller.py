"""The server's poller: converges active runs with their sites and emits state changes.

Adaptive: it polls fast after a submission or a change and backs off while nothing moves;
it sleeps until woken when no run is active. Sites are asked in batches (the service asks
each site once for all its runs). Gateway errors are logged and survived. Changes made by
any process (the CLI, a kernel) are seen, because it compares the store with what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from ..errors import NotFoundError
from ..service import RunService
from ..store import Run, now

log = logging.getLogger(__name__)


class RunPoller:
    """Background task of the server extension; ``emit`` receives each state change."""

    def __init__(
        self,
        service: RunService,
        executor: Executor,
        emit: Callable[[dict[str, Any]], None],
        min_interval: float = 1.0,
        max_interval: float = 10.0,
        on_schedules: Callable[[list[dict[str, Any]]], None] | None = None,
    ):
        self.service = service
        self.executor = executor
        self.emit = emit
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.interval = min_interval
        #: receives the schedules a poll's tick changed (their next runs were queued)
        self.on_schedules = on_schedules
        self.polls = 0
        self._seen: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start polling on the running loop (idempotent: the first caller starts it)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        """Poll now and fast again (after a submit, cancel or re-run)."""
        self.interval = self.min_interval
        self._wake.set()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                ticked = await loop.run_in_executor(self.executor,
                                                    self.service.tick_schedules)
                changes, active = await loop.run_in_executor(self.executor, self.poll_once)
            except Exception:  # noqa: BLE001 - the poller must outlive any failure
                log.exception("mantik poller: poll failed; retrying")
                ticked, changes, active = [], [], True
            if ticked and self.on_schedules:
                self.on_schedules(ticked)
            for change in changes:
                self.emit(change)
            if changes:
                self.interval = self.min_interval
            else:
                self.interval = min(self.max_interval, self.interval * 1.5)
            # idle: sleep until woken, unless a schedule may come due (at the longest pause)
            timeout = self.interval if active else (
                self.max_interval if self.service.has_schedules() else None)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def poll_once(self) -> tuple[list[dict[str, Any]], bool]:
        """One cycle (in a worker thread): sync active runs, diff against what was seen."""
        self.polls += 1
        active = self.service.active()
        if active:
            self.service.sync(active)
        watched = {r.id for r in active} | set(self._seen)
        changes = []
        for run_id in watched:
            try:
                run = self.service.get(run_id)
            except NotFoundError:  # deleted meanwhile
                self._seen.pop(run_id, None)
                continue
            old = self._seen.get(run_id)
            if old != run.state:
                changes.append(_event(run, old))
            if run.run_state.terminal:
                self._seen.pop(run_id, None)
            else:
                self._seen[run_id] = run.state
        return changes, bool(self._seen)


def _event(run: Run, old: str | None) -> dict[str, Any]:
    return {"run_id": run.id, "name": run.name, "site": run.site, "old_state": old,
            "new_state": run.state, "reason": run.reason, "time": now()}
