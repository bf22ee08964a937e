"""One shared, adaptive poll per kernel that keeps every shown widget current.

Widgets (run cards, the runs table, the sweep card, the schedules table) register with
:func:`shared_poll` and implement :class:`Watched`. While any of them shows an active run,
one daemon thread asks the engine for the active runs in one request per tick (plus one
per run that just ended) and hands each widget the fresh records; the tick is
:data:`POLL_MIN` after a change and grows to :data:`POLL_MAX` while nothing changes. When
no shown run is active the thread ends: an idle kernel sends nothing.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Protocol

from .client import Client
from .errors import ClientError
from .records import ACTIVE, RunRecord

POLL_MIN = 0.5
POLL_MAX = 5.0
GROWTH = 1.5
#: the list request asks for at least this many active runs (shown ones beyond: one each)
LIST_LIMIT = 100


class Watched(Protocol):
    """A widget the shared poll keeps current."""

    def watched_runs(self) -> set[str]:
        """Ids of the active runs it shows; empty when nothing it shows can change."""

    def refresh(self, runs: dict[str, RunRecord]) -> bool:
        """Take fresh records of (some of) its runs; True if what it shows changed."""

    def poll_failed(self, error: ClientError) -> None:
        """Say that refreshing failed (the poll goes on)."""


class SharedPoll:
    """The poll of one engine client: one thread at most, only while something is active."""

    def __init__(self, client: Client):
        self._client = client
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.RLock()  # watch() adds from the kernel's thread meanwhile
        self._thread: threading.Thread | None = None
        #: refreshes done so far (the benchmark compares it with the requests sent)
        self.ticks = 0

    def watch(self, widget: Watched) -> None:
        """Keep ``widget`` current until nothing it shows is active (or it is closed)."""
        with self._lock:
            self._watched.add(widget)  # just fetched: the next tick comes soon enough
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mantik-poll",
                                                daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        """True while the poll thread runs (some shown run is active)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _shown(self) -> list[Watched]:
        """The registered widgets still displayed (a closed widget has no comm)."""
        with self._lock:
            widgets = list(self._watched)
        return [w for w in widgets if getattr(w, "comm", True) is not None]

    def _active_ids(self) -> tuple[list[Watched], set[str]]:
        shown = self._shown()
        ids: set[str] = set()
        for widget in shown:
            ids |= widget.watched_runs()
        return shown, ids

    def _loop(self) -> None:
        delay = POLL_MIN
        while True:
            time.sleep(delay)
            shown, ids = self._active_ids()
            if ids:
                delay = self._tick(shown, ids, delay)
            with self._lock:  # stop as soon as nothing shown is active
                if not self._active_ids()[1]:
                    self._thread = None  # a later watch() starts a new thread
                    return

    def _tick(self, shown: list[Watched], ids: set[str], delay: float) -> float:
        """Refresh ``shown`` with fresh records of ``ids``; returns the next delay."""
        self.ticks += 1
        try:
            fresh = self.fetch(ids)
        except ClientError as exc:
            for widget in shown:
                widget.poll_failed(exc)
            return POLL_MAX
        changed = False
        for widget in shown:
            changed = widget.refresh(fresh) or changed
        return POLL_MIN if changed else min(POLL_MAX, delay * GROWTH)

    def fetch(self, ids: set[str]) -> dict[str, RunRecord]:
        """Fresh records of ``ids``: the active runs in one request, each other one alone."""
        if len(ids) == 1:
            (run_id,) = ids
            return {run_id: RunRecord(self._client.run(run_id))}
        listed = self._client.runs(states=sorted(ACTIVE), limit=max(LIST_LIMIT, len(ids)))
        fresh = {r["id"]: RunRecord(r) for r in listed if r["id"] in ids}
        for run_id in ids - fresh.keys():  # ended since the last tick
            fresh[run_id] = RunRecord(self._client.run(run_id))
        return fresh


_POLLS: weakref.WeakKeyDictionary[Any, SharedPoll] = weakref.WeakKeyDictionary()


def shared_poll(client: Client) -> SharedPoll:
    """The one poll of ``client`` (a kernel has one client, so one poll)."""
    poll = _POLLS.get(client)
    if poll is None:
        poll = _POLLS[client] = SharedPoll(client)
    return poll
