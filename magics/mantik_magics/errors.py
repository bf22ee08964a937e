"""The one error type the magics know: what the engine or the server reported on purpose."""

from __future__ import annotations


class ClientError(Exception):
    """An error the engine or the server reported on purpose: one line for the user."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        reason: str = "error",
        status: int | None = None,
        details: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.key = key
        self.reason = reason
        self.status = status
        self.details = details or {}
