"""The client that runs the mantik-jupyter engine in this process (no Jupyter server needed).

Used by plain IPython, papermill and editors' kernels. ``mantik_jupyter`` is imported on
the first call, never when the extension is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from .client import ClientError

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
        """Runs, newest first, converged with their sites; states checked as the server does."""
        from mantik_jupyter.states import parse_state

        def listed() -> list[dict[str, Any]]:
            checked = [parse_state(s).value for s in states] if states else None
            return [r.to_dict() for r in self.service.list(states=checked, site=site,
                                                            limit=limit)]

        return self._call(listed)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id (or unique prefix)."""
        return self._call(lambda: self.service.get(run_id).to_dict())

    def submit(
        self, notebook: str, *, site: str | None, config: str | None,
        parameter_texts: dict[str, str], name: str | None,
    ) -> dict[str, Any]:
        """Package and submit a notebook file."""
        return self._call(lambda: self.service.submit(
            notebook, site=site, config=config, parameter_texts=parameter_texts, name=name,
        ).to_dict())

    def rerun(
        self, run_id: str, *, parameter_texts: dict[str, str], site: str | None,
        name: str | None,
    ) -> dict[str, Any]:
        """Submit a run's notebook again with overrides."""
        return self._call(lambda: self.service.rerun(
            run_id, parameter_texts=parameter_texts, site=site, name=name,
        ).to_dict())

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a queued or running run."""
        return self._call(lambda: self.service.cancel(run_id).to_dict())

    def logs(self, run_id: str, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """Log text from ``offset``."""
        return self._call(lambda: self.service.logs(run_id, offset, limit).to_dict())

    def download(self, run_id: str, path: str, to: Path) -> Path:
        """Copy a file or folder of the run's directory into ``to``."""
        return self._call(lambda: self.service.download(run_id, path, to))
