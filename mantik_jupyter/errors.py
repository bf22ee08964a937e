"""The errors the engine raises: each says what is wrong and what is allowed."""

from __future__ import annotations

import errno
import re

#: Longest message an error carries (to a REST body, a log line, a terminal).
MAX_MESSAGE = 2000
# the user:password@ (or token@) of a URL; a message quoting a URL must not carry it on
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s]*@")


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


class MantikError(Exception):
    """Base of every error the engine raises on purpose (never a bare traceback for users)."""

    #: HTTP status the REST face answers with; the CLI exits non-zero for all of them.
    status = 400
    reason = "bad_request"

    def __init__(self, message: str, *, key: str | None = None, details: dict | None = None):
        message = redact(message)
        if len(message) > MAX_MESSAGE:  # a message quotes values; a value may be huge
            cut = len(message) - MAX_MESSAGE
            message = f"{message[:MAX_MESSAGE]}... ({cut} more characters not shown)"
        super().__init__(message)
        self.message = message
        self.key = key
        self.details = details or {}

    def to_dict(self) -> dict:
        """The JSON error body: ``{reason, message, details}``."""
        details = dict(self.details)
        if self.key:
            details.setdefault("key", self.key)
        return {"reason": self.reason, "message": self.message, "details": details}


class ConfigError(MantikError):
    """A run configuration, parameter or profile value is invalid."""

    status = 422
    reason = "invalid_config"


class NotFoundError(MantikError):
    """A run, site, notebook or file does not exist."""

    status = 404
    reason = "not_found"


class ForbiddenError(MantikError):
    """The request is understood but not allowed (a read-only preset, a path outside)."""

    status = 403
    reason = "forbidden"


class ConflictError(MantikError):
    """The request conflicts with the current state (e.g. cancelling a finished run)."""

    status = 409
    reason = "conflict"


class BackendError(MantikError):
    """The site refused or failed an operation; the message is the gateway's own."""

    status = 502
    reason = "backend_error"


class UnavailableError(MantikError):
    """A site did not answer in time, or too many calls to it still wait (503)."""

    status = 503
    reason = "site_unavailable"


class StoreError(MantikError):
    """The run store cannot be used: damaged, from a newer version, disk full, read-only."""

    status = 503
    reason = "store_unavailable"


def out_of_space(exc: BaseException, where: object) -> StoreError | None:
    """A full disk or quota (an OSError or SQLite's "disk is full") as an error naming the
    folder; None for any other failure."""
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or \
        "database or disk is full" in str(exc)
    if not full:
        return None
    return StoreError(f"no space left on the disk holding {where}: free some space and retry",
                      key="store")


class CredentialsError(MantikError):
    """Credentials for a site are missing or were rejected (never contains the secret)."""

    status = 401
    reason = "credentials"


class LimitError(MantikError):
    """An input is over a limit (size, nesting depth): refused before it costs anything."""

    status = 400
    reason = "limit_exceeded"
