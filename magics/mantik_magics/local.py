"""The client that runs the mantik-jupyter engine in this process (no Jupyter server needed).

Used by plain IPython, papermill and editors' kernels. ``mantik_jupyter`` is imported on
the first call, never when the extension is loaded. With no server polling the sites, every
read of runs syncs them first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from .errors import ClientError

T = TypeVar("T")


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Turn the engine's own errors into the one error type the magics know."""
    from mantik_jupyter.errors import MantikError

    try:
        yield
    except MantikError as exc:
        raise ClientError(exc.message, key=exc.key, reason=exc.reason, status=exc.status,
                          details=exc.details) from None


class LocalClient:
    """Runs and sites through :class:`mantik_jupyter.service.RunService` in this process."""

    server = None
    where = "the mantik-jupyter engine in this kernel"

    def __init__(self, service: Any = None):
        if service is not None:
            self.service = service

    @cached_property
    def service(self) -> Any:
        """The engine, created on first use (its home is ``$MANTIK_JUPYTER_HOME``)."""
        from mantik_jupyter.service import RunService

        with _engine_errors():
            return RunService()

    def _call(self, action: Callable[[], T]) -> T:
        with _engine_errors():
            return action()

    def sites(self) -> list[dict[str, Any]]:
        """The sites runs can be submitted to."""
        return self._call(lambda: [s.to_dict() for s in self.service.catalog.all()])

    def runs(
        self, *, states: list[str] | None = None, site: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The first page of runs, newest first, after syncing the active ones."""
        from mantik_jupyter.runfilter import RunFilter

        def listed() -> list[dict[str, Any]]:
            run_filter = RunFilter.of(states=states, site=site, limit=limit)
            self.service.sync()
            return json.loads(self.service.page_json(run_filter))["runs"]

        return self._call(listed)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id (or unique prefix), synced with its site."""
        return self._call(lambda: self.service.run_record(self.service.synced(run_id).id))

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Package and submit a notebook file (a sweep: every point, as ``POST runs``)."""
        from mantik_jupyter.sweeps import submission

        return self._call(lambda: self.service.run_record(
            self.service.submit(submission(request)).id))

    def rerun(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Submit a run's request again with changes."""
        from mantik_jupyter.request import RerunChanges

        return self._call(lambda: self.service.run_record(
            self.service.rerun(run_id, RerunChanges.from_json(changes)).id))

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a queued or running run."""
        return self._call(lambda: self.service.run_record(self.service.cancel(run_id).id))

    def logs(self, run_id: str, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """Log text from ``offset`` (the run synced first, so the end of the log is known)."""
        def read() -> dict[str, Any]:
            self.service.synced(run_id)
            return self.service.logs(run_id, offset, limit).to_dict()

        return self._call(read)

    def download(self, run_id: str, path: str, to: Path) -> Path:
        """Copy a file or folder of the run's directory into ``to``."""
        return self._call(lambda: self.service.download(run_id, path, to))

    def results(self, run_id: str, sort: str | None = None) -> dict[str, Any]:
        """A sweep's points ranked, after syncing them with their sites."""
        def ranked() -> dict[str, Any]:
            return self.service.results(self.service.synced(run_id).id, sort)

        return self._call(ranked)

    def add_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        """Add a recurring schedule and submit its first run."""
        from mantik_jupyter.request import SubmitRequest

        return self._call(lambda: self.service.add_schedule(SubmitRequest.from_json(request)))

    def schedules(self, deleted: bool = False) -> list[dict[str, Any]]:
        """Schedules after a tick (what is due is queued, as the server's poller would)."""
        def listed() -> list[dict[str, Any]]:
            self.service.tick_schedules()
            return self.service.schedules(deleted)

        return self._call(listed)
