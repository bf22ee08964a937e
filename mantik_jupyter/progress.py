"""Progress of long work before a job is queued: bundling, uploading, staging data, submitting.

Backends (and sweeps, data staging) report through one small interface, :class:`Progress`:
``phase`` when a step starts, ``advance`` as bytes or files are done. :class:`Tracker`
keeps the counts, computes a rate and hands snapshots to a listener at a bounded rate (a
few per second), and stops the work with :class:`SubmitCancelled` once a cancel was asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: The phases, in the order a submission goes through them.
PHASES = ("bundling", "uploading", "staging data", "submitting")
#: Shortest time between two snapshots handed to the listener (a phase change always is).
INTERVAL = 0.25
#: Bytes read from a file at a time while uploading it.
CHUNK = 1 << 18


class SubmitCancelled(BaseException):
    """A cancel asked for during a submission: raised from a progress report to stop the
    work. A BaseException so that no retry loop (which catches Exception) swallows it."""


class Progress:
    """Receiver of how far long work has got; this base ignores every report."""

    def phase(self, name: str, *, total_bytes: int = 0, total_files: int = 0) -> None:
        """A step starts; totals of what it will move (0: unknown)."""

    def advance(self, nbytes: int = 0, files: int = 0) -> None:
        """Bytes and files of the current step just done."""


#: For callers that want no progress.
NO_PROGRESS = Progress()


@dataclass(frozen=True)
class Snapshot:
    """How far a run's submission has got: what the run JSON's ``progress`` holds."""

    phase: str
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    rate: float  # bytes per second in this phase

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Told a run's id and a snapshot of its submission's progress.
Listener = Callable[[str, Snapshot], None]


class Tracker(Progress):
    """Counts one submission's progress and passes snapshots on, at most every
    :data:`INTERVAL` seconds (and at each phase change); raises :class:`SubmitCancelled`
    from any report once :meth:`cancel` was called."""

    def __init__(self, listener: Callable[[Snapshot], None] | None = None,
                 interval: float = INTERVAL, asked: Callable[[], bool] | None = None):
        self.listener = listener
        self.interval = interval
        #: whether another process asked for a cancel (looked at every ``interval`` at most)
        self.asked = asked
        self._asked_at = 0.0
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._phase = ""
        self._bytes = self._files = self._total_bytes = self._total_files = 0
        self._started = self._sent = 0.0

    def cancel(self) -> None:
        """Ask the work to stop at its next report."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise :class:`SubmitCancelled` if a cancel was asked for (here or elsewhere)."""
        if self.asked is not None and time.monotonic() - self._asked_at >= self.interval:
            self._asked_at = time.monotonic()
            if self.asked():
                self._cancelled.set()
        if self._cancelled.is_set():
            raise SubmitCancelled()

    def phase(self, name: str, *, total_bytes: int = 0, total_files: int = 0) -> None:
        self.check()
        with self._lock:
            self._phase, self._total_bytes, self._total_files = name, total_bytes, total_files
            self._bytes = self._files = 0
            self._started = time.monotonic()
        self._publish(force=True)

    def advance(self, nbytes: int = 0, files: int = 0) -> None:
        self.check()
        with self._lock:
            self._bytes += nbytes
            self._files += files
            done = (self._total_bytes and self._bytes >= self._total_bytes) or (
                self._total_files and self._files >= self._total_files)
        self._publish(force=bool(done))  # the last step always shows

    def snapshot(self) -> Snapshot:
        """The counts now."""
        with self._lock:
            elapsed = time.monotonic() - self._started
            rate = self._bytes / elapsed if elapsed > 0 else 0.0
            return Snapshot(self._phase, self._bytes, max(self._total_bytes, self._bytes),
                            self._files, max(self._total_files, self._files), round(rate, 1))

    def _publish(self, force: bool) -> None:
        if self.listener is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._sent < self.interval:
                return
            self._sent = now
        self.listener(self.snapshot())


def reader(path: Path, progress: Progress) -> Callable[[], Iterator[bytes]]:
    """Fresh chunk iterators over a file, one per upload attempt, that report each byte
    once: a retried upload does not count again what an earlier attempt already read."""
    high = [0]  # bytes reported so far, shared by the attempts

    def chunks() -> Iterator[bytes]:
        offset = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                offset += len(chunk)
                if offset > high[0]:
                    progress.advance(offset - high[0])
                    high[0] = offset
                yield chunk

    return chunks


class Stream:
    """Chunks (of :func:`reader`) as a read()-able stream, for clients that read a file
    object, not an iterator."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
