"""The command line's view of long work (bundling, upload, download) on stderr.

On a terminal a rich progress bar (phase, bytes, files, rate); elsewhere (a log, a pipe)
one line per phase, so logs stay short; with ``--json`` nothing at all.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

from .progress import Snapshot, Tracker


def human(size: float) -> str:
    """A byte count in words: 1.5 MB."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


class Display:
    """Receives progress snapshots (a :data:`~.progress.Listener`) and shows them."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bar = not quiet and self.stream.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._phase = ""

    def __enter__(self) -> Display:
        if self.bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description:>12}"), BarColumn(), DownloadColumn(),
                TextColumn("{task.fields[files]}"), TransferSpeedColumn(),
                TimeRemainingColumn(), console=Console(file=self.stream), transient=False)
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, run_id: str, snapshot: Snapshot) -> None:
        """Show a snapshot: update the bar, or print a line when the phase changes."""
        if self.quiet:
            return
        new_phase = snapshot.phase != self._phase
        self._phase = snapshot.phase
        if self._progress is None:
            if new_phase:
                print(self._line(run_id, snapshot), file=self.stream, flush=True)
            return
        total = snapshot.bytes_total or None
        files = (f"{snapshot.files_done}/{snapshot.files_total} files"
                 if snapshot.files_total else f"{snapshot.files_done} files")
        if new_phase or self._task is None:
            self._task = self._progress.add_task(snapshot.phase, total=total, files=files)
        self._progress.update(self._task, completed=snapshot.bytes_done, total=total,
                              files=files)

    @staticmethod
    def _line(run_id: str, snapshot: Snapshot) -> str:
        sizes = []
        if snapshot.files_total:
            sizes.append(f"{snapshot.files_total} files")
        if snapshot.bytes_total:
            sizes.append(human(snapshot.bytes_total))
        detail = f" ({', '.join(sizes)})" if sizes else ""
        return f"mantik-jupyter: {run_id} {snapshot.phase}{detail}"

    def tracker(self, run_id: str) -> Tracker:
        """A progress receiver for work the command does itself (a download)."""
        return Tracker(lambda snapshot: self(run_id, snapshot))
