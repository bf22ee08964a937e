"""One small interface to the engine, with two implementations: REST and in process.

The magics talk to whichever :func:`connect` picks: the Jupyter server extension's REST API
when the server that started this kernel said where it is (``MANTIK_JUPYTER_URL`` and
``MANTIK_JUPYTER_TOKEN``), else the engine in this process when ``mantik_jupyter`` is
installed. Both take a submission as the engine's ``SubmitRequest`` JSON, answer with the
same run JSON (the engine renders it, links included) and raise :class:`ClientError`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ClientError

if TYPE_CHECKING:
    from .server import JupyterServer

URL_ENV = "MANTIK_JUPYTER_URL"
TOKEN_ENV = "MANTIK_JUPYTER_TOKEN"  # noqa: S105 - the variable's name, not a secret


class Client(Protocol):
    """What the magics need from the engine; runs, sites and log chunks are JSON dicts."""

    #: where the work happens, for messages ("the Jupyter server at ...", "this process")
    where: str
    #: the Jupyter server that started this kernel, when known (asked which notebook this is)
    server: JupyterServer | None

    def sites(self) -> list[dict[str, Any]]:
        """The sites runs can be submitted to."""

    def runs(
        self, *, states: list[str] | None = None, site: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs, newest first."""

    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id (or unique prefix), synced with its site."""

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Package and submit a notebook: ``request`` is a ``SubmitRequest``'s JSON."""

    def rerun(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Submit a run's request again with ``changes`` (a ``RerunChanges``' JSON)."""

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a queued or running run."""

    def logs(self, run_id: str, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """Log bytes from ``offset``: ``{data, offset, next_offset, eof, state}``."""

    def download(self, run_id: str, path: str, to: Path) -> Path:
        """Copy a file or folder of the run's directory into the folder ``to``."""

    def results(self, run_id: str, sort: str | None = None) -> dict[str, Any]:
        """A sweep's points ranked by its objective (or ``sort``): ``{sweep, state, metric,
        goal, rows}``, each row ``{point, run_id, state, reason, site, parameters,
        duration, metrics, best}``."""

    def add_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        """Add a recurring schedule: ``request`` is a ``SubmitRequest``'s JSON with Cron."""

    def schedules(self, deleted: bool = False) -> list[dict[str, Any]]:
        """Schedules, newest first (deleted ones only when asked)."""


def connect() -> Client:
    """The REST client if a server with the extension started this kernel, else in process."""
    url = os.environ.get(URL_ENV)
    if url:
        from .rest import RestClient

        return RestClient(url, os.environ.get(TOKEN_ENV))
    if importlib.util.find_spec("mantik_jupyter") is not None:
        from .local import LocalClient

        return LocalClient()
    raise ClientError(
        "no mantik-jupyter engine to talk to: start JupyterLab with the mantik-jupyter "
        "server extension, or `pip install mantik-jupyter` into this kernel's environment",
        reason="no_engine",
    )
