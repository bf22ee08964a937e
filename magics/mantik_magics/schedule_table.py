"""The live schedules table of ``%mantik_schedules``.

A schedule's next occurrence always waits on its site as a queued run (its ``last_run``),
so what can change soon is that run and what follows its start. The rule: the table
watches, through the kernel's shared poll, each shown schedule's last run while that run
is active and starts within :data:`HORIZON` (a running occurrence, or the waiting one
about to fire); it reads the schedules again when one of those runs changed or a shown
next time has passed (the fire queues the next occurrence). Schedules paused, deleted or
whose next fire is further off than :data:`HORIZON` keep the table still: it sends nothing
until the table is shown again.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import ipywidgets as w
from IPython.display import display

from .client import Client
from .errors import ClientError
from .lists import ScheduleList, schedule_state
from .poll import shared_poll
from .records import ACTIVE, RunRecord, parse_time
from .widgets import badge

#: how far ahead a waiting occurrence keeps the table polling
HORIZON = timedelta(minutes=10)


class ScheduleTable(w.VBox):
    """Schedules as a live table: state, cron (in words), next time, runs so far and the
    last run."""

    COLUMNS = ("id", "name", "state", "cron", "next (UTC)", "runs", "last run")

    def __init__(self, client: Client, schedules: ScheduleList):
        self._client = client
        self._schedules = schedules
        self._note = w.HTML()
        self._rows = w.HTML(self._table())
        super().__init__([self._rows, self._note], _dom_classes=["mantik-schedules-table"])

    def __repr__(self) -> str:
        return f"ScheduleTable({len(self._schedules)} schedules)"

    # --- the shared poll's side (poll.Watched)

    def watched_runs(self) -> set[str]:
        """The shown schedules' last runs that are active and start within the horizon."""
        soon = datetime.now(timezone.utc) + HORIZON
        ids = set()
        for schedule in self._schedules:
            last = schedule.get("last_run") or {}
            if last.get("state") not in ACTIVE:
                continue
            start = parse_time(last.get("occurrence"))
            if last["state"] != "QUEUED" or start is None or start <= soon:
                ids.add(last["id"])
        return ids

    def refresh(self, runs: dict[str, RunRecord]) -> bool:
        """Read the schedules again if a last run changed or a next time has passed."""
        now = datetime.now(timezone.utc)
        moved = any((s.get("last_run") or {}).get("id") in runs
                    and runs[s["last_run"]["id"]].get("state") != s["last_run"]["state"]
                    for s in self._schedules)
        due = any(schedule_state(s) == "active" and _passed(s.get("next_time"), now)
                  for s in self._schedules)
        if not (moved or due):
            return False
        try:
            fresh = self._client.schedules(self._schedules.deleted)
        except ClientError as exc:
            self.poll_failed(exc)
            return False
        self._note.value = ""
        if fresh == list(self._schedules):
            return False
        self._schedules[:] = fresh  # the list the magic returned shows the same
        self._rows.value = self._table()
        return True

    def poll_failed(self, error: ClientError) -> None:
        """Say why the table may be stale (the next tick tries again)."""
        self._note.value = f"<i>could not refresh: {html.escape(error.message)}</i>"

    def _table(self) -> str:
        if not self._schedules:
            return "<i>no schedules</i>"
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.COLUMNS)
        rows = []
        for schedule in self._schedules:
            last = schedule.get("last_run")
            cells = [html.escape(str(schedule.get(key) or "")) for key in ("id", "name")]
            cells += [schedule_state(schedule),
                      f"<span title='{html.escape(str(schedule.get('cron')))}'>"
                      f"{html.escape(str(schedule.get('cron_text')))}</span> "
                      f"({html.escape(str(schedule.get('timezone')))})",
                      html.escape(str(schedule.get("next_time") or "-")[:19].replace("T", " ")),
                      str(schedule.get("runs", "")),
                      f"{badge(last['state'])} <code>{html.escape(last['id'])}</code>"
                      if last else "-"]
            rows.append(f"<tr data-schedule-id='{html.escape(schedule['id'])}'>"
                        + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def show_schedule_table(client: Client, schedules: ScheduleList) -> ScheduleTable:
    """Display a live schedules table that keeps ``schedules`` current."""
    table = ScheduleTable(client, schedules)
    display(table)
    shared_poll(client).watch(table)
    return table


def _passed(value: str | None, now: datetime) -> bool:
    """True if the ISO time ``value`` is given and not after ``now``."""
    when = parse_time(value)
    return when is not None and when <= now
