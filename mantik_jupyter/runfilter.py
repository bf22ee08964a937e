"""Which runs a face asks for: the one list filter of the store, the service, REST and CLI."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass

from .request import BadRequest
from .states import parse_state

SORTS = ("-created_at", "created_at")


@dataclass(frozen=True)
class RunFilter:
    """Runs in any of ``states``, on ``site``, of ``notebook`` (absolute path), whose name,
    notebook or id contains ``text``; a page of ``limit`` runs after ``cursor`` (a keyset
    cursor this API handed out), newest first unless ``oldest_first``. Without ``points``
    a sweep's points are left out (the sweep stands for them: the lab's list); ``sweep``
    keeps only that sweep's points."""

    states: tuple[str, ...] = ()
    site: str | None = None
    notebook: str | None = None
    text: str | None = None
    limit: int | None = None
    cursor: str | None = None
    oldest_first: bool = False
    points: bool = True
    sweep: str | None = None

    @classmethod
    def of(
        cls,
        *,
        states: Iterable[str] | None = None,
        site: str | None = None,
        notebook: str | None = None,
        text: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        sort: str = "-created_at",
        points: bool = True,
        sweep: str | None = None,
    ) -> RunFilter:
        """A filter from what a user typed: state names in any case, empty means "any"."""
        if sort not in SORTS:
            raise BadRequest(f"sort must be created_at or -created_at, got {sort!r}",
                             key="sort")
        checked = tuple(parse_state(s).value for s in states or () if s)
        return cls(states=checked, site=site or None, notebook=notebook or None,
                   text=text or None, limit=limit, cursor=cursor or None,
                   oldest_first=sort == "created_at", points=points, sweep=sweep or None)

    def __post_init__(self) -> None:
        """Refuse a bad limit and a cursor this API did not hand out, up front."""
        if self.limit is not None and self.limit < 1:
            raise BadRequest(f"limit must be 1 or more, got {self.limit}", key="limit")
        self.after  # noqa: B018 - decoding is the check

    @property
    def where(self) -> dict[str, object]:
        """The row conditions alone (what a count of matching runs needs)."""
        return {"states": self.states, "site": self.site, "notebook": self.notebook,
                "text": self.text, "points": self.points, "sweep": self.sweep}

    @property
    def after(self) -> tuple[str, str] | None:
        """The (created_at, id) of the last run of the previous page."""
        if not self.cursor:
            return None
        try:
            raw = base64.urlsafe_b64decode(self.cursor + "=" * (-len(self.cursor) % 4))
            created_at, run_id = json.loads(raw)
            if not (isinstance(created_at, str) and isinstance(run_id, str)):
                raise ValueError
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise BadRequest(f"cursor {self.cursor!r} is not one this API returned",
                             key="cursor") from None
        return created_at, run_id


def cursor_of(created_at: str, run_id: str) -> str:
    """The opaque cursor of the page that follows the run (created_at, run_id)."""
    raw = json.dumps([created_at, run_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
