"""Which runs a live process is working on: one advisory lock file per run.

The submitting process holds its run's lock from before the record exists until the record
has left SUBMITTING; a recovery takes the same lock before it touches the run. The OS frees
a lock when its holder dies, however it dies (SIGKILL, a closed laptop's lost kernel), so a
free lock on a SUBMITTING run means no live process is submitting it. ``flock`` locks
belong to one open file, so two threads of one process (the server's poller and a submit
request, the magics' in-process service) exclude each other as two processes do.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Wait for an exclusive lock on ``path`` (created owner-only, left in place) and hold
    it for a read-modify-write of a file several threads and processes change."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor frees the lock


class RunLock:
    """An exclusive, non-blocking lock on one file; removed again by its holder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; False at once if a live holder has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    self._fd = fd
                    return True
            except FileNotFoundError:
                pass
            os.close(fd)  # its last holder removed that file meanwhile: lock the current one

    def release(self) -> None:
        """Remove the file, then let go of the lock (removed first, so nobody locks a file
        that is about to vanish and believes it alone)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        if not self.acquire():
            raise RuntimeError(f"{self.path} is locked by a live process")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
