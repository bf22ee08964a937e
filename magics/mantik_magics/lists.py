"""What the list magics return: runs and sites as lists that print as text or tables."""

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


class ScheduleList(list):
    """Schedules as a list of dicts, one line each: state, cron, next time, last run."""

    def __repr__(self) -> str:
        lines = [f"{len(self)} schedule(s)"]
        for s in self:
            state = "deleted" if s.get("deleted") else "paused" if s.get("paused") else "active"
            last = s.get("last_run") or {}
            lines.append(f"{s.get('id')}  {state:7}  {s.get('cron'):15}  next "
                         f"{s.get('next_time') or '-'}  last {last.get('state', '-')}  "
                         f"{s.get('name')}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))
