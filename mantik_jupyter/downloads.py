"""Downloads from a site: streamed to disk in chunks, within a byte and file budget.

One download (a file, or a folder with everything in it) of a run may bring at most the
run config's ``Download.MaxSize`` bytes (default 10 GB) in ``Download.MaxFiles`` files
(10,000), the way ``Bundle.MaxSize``/``Bundle.MaxFiles`` bound what is sent: a job, or a
site, cannot fill the disk Jupyter runs on. A file is refused before it is fetched when the
site's size for it is over budget, and stopped while it streams in when it grows past it;
either way no partial file is left behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from .bundle import _human
from .errors import ConflictError, LimitError
from .progress import NO_PROGRESS, Progress
from .spec import parse_memory
from .store import Run

MAX_FILES = 10_000
MAX_SIZE_MB = 10 * 1024
#: Bytes read from the network and written to disk at a time.
CHUNK = 1 << 20


class Budget(Progress):
    """Counts what one download of a run brought and refuses more than its budget; passes
    every report on to ``progress``."""

    def __init__(self, run: Run, what: str, progress: Progress = NO_PROGRESS):
        options: dict[str, Any] = (run.spec or {}).get("Download") or {}
        self.max_bytes = parse_memory(options.get("MaxSize", MAX_SIZE_MB),
                                      "Download.MaxSize") * 1024 * 1024
        self.max_files = int(options.get("MaxFiles", MAX_FILES))
        self.run_id, self.what, self.progress = run.id, what, progress
        self.bytes = self.files = 0

    def phase(self, name: str, *, total_bytes: int = 0, total_files: int = 0) -> None:
        self.progress.phase(name, total_bytes=total_bytes, total_files=total_files)

    def expect(self, name: str, nbytes: int) -> None:
        """Refuse a file whose size (as the site says) would take the download over budget."""
        self._check(name, self.bytes + nbytes, self.files + 1)

    def advance(self, nbytes: int = 0, files: int = 0) -> None:
        self._check(None, self.bytes + nbytes, self.files + files)
        self.bytes += nbytes
        self.files += files
        self.progress.advance(nbytes, files)

    def _check(self, name: str | None, nbytes: int, files: int) -> None:
        if files > self.max_files:
            raise LimitError(
                f"downloading {self.what!r} of run {self.run_id}: more than {self.max_files} "
                "files (Download.MaxFiles); download a folder inside it, or raise "
                "Download.MaxFiles in the run's config", key="Download.MaxFiles")
        if nbytes > self.max_bytes:
            which = f" ({name} is {_human(nbytes - self.bytes)})" if name else ""
            raise LimitError(
                f"downloading {self.what!r} of run {self.run_id}: more than "
                f"{_human(self.max_bytes)} (Download.MaxSize){which}; nothing of it was "
                "kept; download a smaller part, or raise Download.MaxSize in the run's "
                "config", key="Download.MaxSize")


def expect(progress: Progress, name: str, nbytes: int) -> None:
    """Tell a download's budget (if ``progress`` is one) of a file about to be fetched."""
    if isinstance(progress, Budget):
        progress.expect(name, nbytes)


class Spool:
    """One file coming in: written in chunks under a hidden temporary name beside
    ``target``, renamed into place once whole, removed if anything fails (a budget
    exceeded, a dropped connection). Each byte is reported to ``progress`` once, however
    often a retried fetch :meth:`restart` s it."""

    def __init__(self, target: Path, progress: Progress = NO_PROGRESS):
        self.target, self.progress = target, progress
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                    dir=target.parent)
        os.close(fd)
        self.temp = Path(name)
        self._fh: Any = None
        self._written = self._reported = 0

    def __enter__(self) -> Spool:
        return self

    def restart(self) -> None:
        """Begin the file again (a fetch attempt starts)."""
        self._close()
        self._fh = open(self.temp, "wb")  # noqa: SIM115 - closed by _close
        self._written = 0

    def write(self, chunk: bytes) -> int:
        """Append a chunk (file-like: pyfirecrest writes into it too)."""
        if self._fh is None:
            self.restart()
        self._fh.write(chunk)
        self._written += len(chunk)
        self._report(self._written)
        return len(chunk)

    def adopt(self) -> None:
        """Count a file a client wrote to :attr:`temp` by itself."""
        self._report(self.temp.stat().st_size)

    def _report(self, size: int) -> None:
        if size > self._reported:
            self.progress.advance(size - self._reported)
            self._reported = size

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
        if kind is not None:
            self.temp.unlink(missing_ok=True)
            return
        os.replace(self.temp, self.target)
        self.progress.advance(files=1)


def move_into(fetched: Path, folder: Path) -> Path:
    """Move a whole download (a file or a folder) from its temporary place into ``folder``,
    file by file, over what is there (a folder's other files are kept); returns the copy."""
    target = folder / fetched.name
    if not fetched.is_dir() or not target.is_dir():
        if target.is_dir():
            raise ConflictError(f"{str(target)!r} is a folder; a file of the same name is "
                                "not put in its place", key="path")
        fetched.replace(target)
        return target
    for source in sorted(fetched.rglob("*")):
        if source.is_file():
            place = target / source.relative_to(fetched)
            place.parent.mkdir(parents=True, exist_ok=True)
            source.replace(place)
    return target
