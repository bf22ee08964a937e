"""A run as the magics return it: a plain dict that prints as one line, and text helpers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
ACTIVE = frozenset({"SUBMITTING", "QUEUED", "RUNNING", "UNKNOWN"})
#: where downloads of runs go by default (a folder named by each run's id inside)
DOWNLOAD_ROOT = "mantik-runs"


class RunRecord(dict):
    """A run's JSON as a dict (``run["state"]``), shown as one summary line."""

    @property
    def terminal(self) -> bool:
        """True once the run can no longer change."""
        return self.get("state") in TERMINAL

    def replace(self, fresh: dict[str, Any]) -> bool:
        """Become ``fresh`` in place (whoever holds this record sees it); True if it changed."""
        if fresh == self:
            return False
        self.update(fresh)  # never empty in between: another thread may be reading it
        for key in self.keys() - fresh.keys():
            del self[key]
        return True

    def __repr__(self) -> str:
        return summary(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(summary(self))


def in_kernel() -> bool:
    """True inside a Jupyter kernel (widgets can be shown), False in a terminal IPython."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def is_sweep(run: dict[str, Any]) -> bool:
    """True for a sweep's own record (its points are runs of their own)."""
    return run.get("sweep_id") is not None and run.get("sweep_id") == run.get("id")


def summary(run: dict[str, Any]) -> str:
    """``<run ID 'NAME' on SITE: STATE (reason)>``."""
    reason = f" ({run['reason']})" if run.get("reason") else ""
    return f"<run {run.get('id')} {run.get('name')!r} on {run.get('site')}: " \
           f"{run.get('state')}{reason}>"


def parse_time(value: str | None) -> datetime | None:
    """An ISO time of the engine's JSON as an aware datetime (None for none)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def elapsed(run: dict[str, Any], now: datetime | None = None) -> str:
    """Time since the run was created (until it ended), as ``1h02m03s``."""
    start = parse_time(run.get("created_at"))
    if start is None:
        return ""
    end = parse_time(run.get("ended_at")) or now or datetime.now(timezone.utc)
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
