"""Normalised run states shared by every backend and face.

The list and its active/terminal split are defined by the State schema of
server/openapi.yaml; tests/test_states.py checks this copy against it.
"""

from __future__ import annotations

from enum import Enum


class RunState(str, Enum):
    """One state vocabulary for all gateways; the native state is kept beside it."""

    SUBMITTING = "SUBMITTING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        """True once the job can no longer change."""
        return self in TERMINAL_STATES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATES = frozenset(
    {RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.TIMEOUT}
)
ACTIVE_STATES = frozenset(
    {RunState.SUBMITTING, RunState.QUEUED, RunState.RUNNING, RunState.UNKNOWN}
)


def parse_state(value: str) -> RunState:
    """Parse a user-given state name case-insensitively, naming the allowed ones on error."""
    from .errors import ConfigError

    try:
        return RunState(value.strip().upper())
    except ValueError:
        allowed = ", ".join(s.value for s in RunState)
        raise ConfigError(f"unknown state {value!r}; allowed: {allowed}", key="state") from None
