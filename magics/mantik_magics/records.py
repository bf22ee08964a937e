"""What the magics return: runs as plain dicts that print as one line, and text helpers."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})


class RunRecord(dict):
    """A run's JSON as a dict (``run["state"]``), shown as one summary line."""

    @property
    def terminal(self) -> bool:
        """True once the run can no longer change."""
        return self.get("state") in TERMINAL

    def __repr__(self) -> str:
        return summary(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(summary(self))


class RunList(list):
    """Runs as a list of :class:`RunRecord`; displayed as the interactive runs table."""

    def __init__(self, runs: list[dict[str, Any]], client: Any):
        super().__init__(RunRecord(r) for r in runs)
        self.client = client

    def __repr__(self) -> str:
        return "\n".join([f"{len(self)} run(s), newest first", *(summary(r) for r in self)])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _ipython_display_(self) -> None:
        if not in_kernel():
            print(repr(self))
            return
        from IPython.display import display

        from .widgets import RunTable

        display(RunTable(self.client, self))


class SiteList(list):
    """Sites as a list of dicts, shown as a table."""

    COLUMNS = ("name", "kind", "title", "preset")

    def __repr__(self) -> str:
        return "\n".join(f"{s.get('name'):<16} {s.get('kind'):<10} {s.get('title') or ''}"
                         for s in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.COLUMNS)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(s.get(c, '')))}</td>"
                                         for c in self.COLUMNS) + "</tr>" for s in self)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def in_kernel() -> bool:
    """True inside a Jupyter kernel (widgets can be shown), False in a terminal IPython."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def summary(run: dict[str, Any]) -> str:
    """``<run ID 'NAME' on SITE: STATE (reason)>``."""
    reason = f" ({run['reason']})" if run.get("reason") else ""
    return f"<run {run.get('id')} {run.get('name')!r} on {run.get('site')}: " \
           f"{run.get('state')}{reason}>"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def elapsed(run: dict[str, Any], now: datetime | None = None) -> str:
    """Time since the run was created (until it ended), as ``1h02m03s``."""
    start = _parse_time(run.get("created_at"))
    if start is None:
        return ""
    end = _parse_time(run.get("ended_at")) or now or datetime.now(timezone.utc)
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def mlflow_link(run: dict[str, Any]) -> str | None:
    """The run's page in the MLflow UI: the server's ``mlflow_url``, else one on the MLflow
    server tracking goes to, else None."""
    if run.get("mlflow_url"):
        return run["mlflow_url"]
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not (run.get("mlflow_run_id") and uri.startswith(("http://", "https://"))):
        return None
    return (f"{uri.rstrip('/')}/#/experiments/{run.get('mlflow_experiment_id')}"
            f"/runs/{run['mlflow_run_id']}")
