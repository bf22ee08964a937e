"""Growing waits between the attempts of a step that keeps failing (finalizing a run whose
site or MLflow is down), so a broken service is asked ever less often, never every poll."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Backoff:
    """The wait after the ``n``th failed attempt: ``first`` doubled each time, at most
    ``longest`` seconds; times are read from ``clock`` (a test moves its own)."""

    first: float = 15.0
    longest: float = 3600.0
    clock: Callable[[], datetime] = field(default=utc_now, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.longest:
            raise ValueError("a backoff needs 0 < first <= longest seconds")

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts (1 or more)."""
        return min(self.first * 2 ** min(attempts - 1, 64), self.longest)

    def now(self) -> str:
        """The clock's time as the store writes times (ISO 8601, sorts as text)."""
        return self.clock().isoformat(timespec="microseconds")

    def retry_at(self, attempts: int) -> str:
        """When the next attempt is due, the ``attempts``th having failed just now."""
        due = self.clock() + timedelta(seconds=self.delay(attempts))
        return due.isoformat(timespec="microseconds")
