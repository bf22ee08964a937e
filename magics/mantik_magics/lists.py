"""What the list magics return: runs, sites and schedules as lists that print as text or
tables."""

from __future__ import annotations

from typing import Any

from .records import RunRecord, in_kernel, summary


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
        from .widgets import show_table

        show_table(self.client, self)


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


def schedule_state(schedule: dict[str, Any]) -> str:
    """``active``, ``paused`` or ``deleted``."""
    return "deleted" if schedule.get("deleted") else "paused" if schedule.get(
        "paused") else "active"


class ScheduleList(list):
    """Schedules as a list of dicts, one line each: state, cron, next time, last run;
    displayed as the live schedules table, which keeps this list current in place."""

    def __init__(self, schedules: list[dict[str, Any]], client: Any, deleted: bool = False):
        super().__init__(schedules)
        self.client = client
        #: deleted schedules are listed too (what a refresh asks for again)
        self.deleted = deleted

    def __repr__(self) -> str:
        lines = [f"{len(self)} schedule(s)"]
        for s in self:
            state = schedule_state(s)
            last = s.get("last_run") or {}
            lines.append(f"{s.get('id')}  {state:7}  {s.get('cron'):15}  next "
                         f"{s.get('next_time') or '-'}  last {last.get('state', '-')}  "
                         f"{s.get('name')}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _ipython_display_(self) -> None:
        if not in_kernel():
            print(repr(self))
            return
        from .schedule_table import show_schedule_table

        show_schedule_table(self.client, self)
