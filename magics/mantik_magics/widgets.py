"""ipywidgets for runs: a live run card and a live runs table.

Both are kept current by the kernel's one shared poll (``poll.py``) while a run they show
is active; widget updates from its thread go out on the kernel's IOPub channel like any
other output. A card offers the actions its run's state allows: cancel while it is
active; re-run, download and the executed notebook once it has ended.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from IPython import get_ipython
from IPython.display import FileLink, display

from .client import Client
from .errors import ClientError
from .poll import shared_poll
from .records import DOWNLOAD_ROOT, RunRecord, elapsed, is_sweep
from .watch import LOG_CHUNK

if TYPE_CHECKING:
    from .sweep_card import SweepCard

TAIL_LINES = 25
TAIL_CHARS = 64 * 1024
STATE_COLOURS = {"COMPLETED": "#2e7d32", "FAILED": "#c62828", "CANCELLED": "#6d4c41",
                 "TIMEOUT": "#c62828", "RUNNING": "#1565c0", "QUEUED": "#6a1b9a"}
#: ended runs whose executed notebook is worth opening (a cancelled one may have none)
EXECUTED_STATES = frozenset({"COMPLETED", "FAILED", "TIMEOUT"})


def badge(state: str) -> str:
    """A run state as a coloured label (``data-state`` lets tests and styles find it)."""
    colour = STATE_COLOURS.get(state, "#555")
    return (f'<span class="mantik-state" data-state="{html.escape(state)}" '
            f'style="background:{colour};color:white;border-radius:3px;'
            f'padding:0 6px;font-weight:bold">{html.escape(state)}</span>')


def _mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def _execution_count() -> int | None:
    shell = get_ipython()
    return getattr(shell, "execution_count", None)


def _action(description: str, icon: str, tooltip: str, on_click: Callable[[Any], None],
            **style: Any) -> w.Button:
    # classes given at creation travel in the widget's first message, not in one more each
    button = w.Button(description=description, icon=icon, tooltip=tooltip, **style,
                      layout=w.Layout(width="auto"),
                      _dom_classes=[f"mantik-action-{description.replace(' ', '-')}"])
    button.on_click(on_click)
    return button


class RunCard(w.VBox):
    """One run: state, elapsed time, MLflow link, log tail and the actions its state allows."""

    def __init__(self, client: Client, run: RunRecord):
        self._client = client
        self._run = run
        self._lock = threading.Lock()
        self._log_offset = 0
        self._log_tail = ""
        self._header = w.HTML()
        self._message = w.HTML()
        self._link = w.HTML()
        self._log_button = w.ToggleButton(description="log", icon="align-left",
                                          tooltip="show the end of the run's log",
                                          layout=w.Layout(width="auto"),
                                          _dom_classes=["mantik-action-log"])
        self._cancel_button = _action("cancel", "stop", "cancel this run", self._on_cancel,
                                      button_style="danger")
        self._ended_actions = [
            _action("re-run", "redo", "submit this run's notebook again", self._on_rerun),
            _action("download", "download",
                    f"copy the run's directory here (under {DOWNLOAD_ROOT}/)", self._on_download),
        ]
        self._open_button = _action("executed notebook", "book",
                                    "download the executed notebook and link to it",
                                    self._on_open_executed)
        self._log = w.HTML(layout=w.Layout(display="none"), _dom_classes=["mantik-log"])
        # while SUBMITTING: the phase, a bar and bytes/files/rate (the run JSON's progress)
        self._progress = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(display="none"))
        self._progress_text = w.HTML()
        self._out = w.Output()  # what the actions produce: new cards, links
        self._actions = w.HBox([self._log_button, self._cancel_button, *self._ended_actions,
                                self._open_button, self._link])
        super().__init__(self._parts(), _dom_classes=["mantik-card"])
        self._log_button.observe(self._on_log_toggle, "value")
        self._render()

    def _parts(self) -> list[w.Widget]:
        """The card's rows, top to bottom."""
        return [self._header, self._message, w.HBox([self._progress, self._progress_text]),
                self._actions, self._log, self._out]

    def __repr__(self) -> str:
        # no state: a notebook saved without widget state keeps this text, which must not
        # freeze a state the card has long left
        run = self._run
        return f"<run card: {run.get('id')} {run.get('name')!r} on {run.get('site')}>"

    @property
    def run(self) -> RunRecord:
        """The record this card shows, kept current in place."""
        return self._run

    # --- the shared poll's side (poll.Watched)

    def watched_runs(self) -> set[str]:
        """The card's run while it is active."""
        return set() if self._run.terminal else {self._run["id"]}

    def refresh(self, runs: dict[str, RunRecord]) -> bool:
        """Take the fresh record of this card's run, and new log text if the log is shown."""
        fresh = runs.get(self._run["id"])
        if fresh is None:
            return False
        changed = self._run.replace(fresh)
        if self._log_button.value:
            changed = self._read_log() or changed
        self._render()
        return changed

    def poll_failed(self, error: ClientError) -> None:
        """Say why the card may be stale."""
        self._say(f"could not refresh: {error.message}")

    # --- rendering

    def _render(self) -> None:
        run = self._run
        state = run.get("state", "")
        self._header.value = (
            f"<b>{html.escape(str(run.get('name')))}</b> &nbsp;{badge(state)}"
            f" &nbsp;run <code>{html.escape(str(run.get('id')))}</code> on "
            f"<b>{html.escape(str(run.get('site')))}</b> &nbsp;{elapsed(run)}")
        reason = run.get("reason")
        self._message.value = f"<i>{html.escape(reason)}</i>" if reason else ""
        link = run.get("mlflow_url")
        if link:
            self._link.value = f'<a href="{html.escape(link)}" target="_blank">MLflow run</a>'
        elif run.get("mlflow_run_id"):
            self._link.value = f"MLflow run <code>{html.escape(run['mlflow_run_id'])}</code>"
        _shown(self._cancel_button, not run.terminal)
        for button in self._ended_actions:
            _shown(button, run.terminal)
        _shown(self._open_button, state in EXECUTED_STATES and bool(run.get("output_notebook")))
        self._render_progress(run.get("progress"))
        tail = "\n".join(self._log_tail.splitlines()[-TAIL_LINES:])
        self._log.value = ("<pre style='max-height:24em;overflow:auto;margin:0'>"
                           f"{html.escape(tail)}</pre>")

    def _render_progress(self, progress: dict[str, Any] | None) -> None:
        """Show a submission's progress, or hide the bar once the run is queued."""
        self._progress.layout.display = "" if progress else "none"
        if not progress:
            self._progress_text.value = ""
            return
        total, files = progress["bytes_total"], progress["files_total"]
        self._progress.value = (min(1.0, progress["bytes_done"] / total) if total else
                                min(1.0, progress["files_done"] / files) if files else 0.0)
        self._progress.description = progress["phase"]
        parts = [f"{_mb(progress['bytes_done'])} of {_mb(total)}"] if total else []
        if files:
            parts.append(f"{progress['files_done']} of {files} files")
        if progress["rate"]:
            parts.append(f"{_mb(progress['rate'])}/s")
        self._progress_text.value = html.escape(", ".join(parts))

    def _say(self, text: str) -> None:
        self._message.value = f"<i>{html.escape(text)}</i>"

    def _read_log(self) -> bool:
        """Fetch new log text into the tail; True if there was any."""
        got = False
        with self._lock:
            while True:
                chunk = self._client.logs(self._run["id"], self._log_offset, LOG_CHUNK)
                if not chunk["data"]:
                    return got
                got = True
                self._log_tail = (self._log_tail + chunk["data"])[-TAIL_CHARS:]
                self._log_offset = chunk["next_offset"]

    # --- actions

    def _on_log_toggle(self, change: dict) -> None:
        self._log.layout.display = "block" if change["new"] else "none"
        if not change["new"]:
            return
        try:
            self._read_log()
        except ClientError as exc:
            self._say(f"could not read the log: {exc.message}")
            return
        self._render()

    def _on_cancel(self, _button: w.Button) -> None:
        self._cancel_button.disabled = True
        try:
            self._run.replace(self._client.cancel(self._run["id"]))
        except ClientError as exc:
            self._say(f"could not cancel: {exc.message}")
        self._cancel_button.disabled = False
        self._render()

    def _on_rerun(self, _button: w.Button) -> None:
        try:
            run = self._client.rerun(self._run["id"], {})
        except ClientError as exc:
            self._say(f"could not re-run: {exc.message}")
            return
        with self._out:
            show_card(self._client, run)

    def _on_download(self, _button: w.Button) -> None:
        try:
            target = self._client.download(self._run["id"], "", Path(DOWNLOAD_ROOT))
        except ClientError as exc:
            self._say(f"could not download: {exc.message}")
            return
        self._say(f"downloaded {target}")

    def _on_open_executed(self, _button: w.Button) -> None:
        run = self._run
        try:
            target = self._client.download(run["id"], run["output_notebook"],
                                           Path(DOWNLOAD_ROOT) / run["id"])
        except ClientError as exc:
            self._say(f"could not fetch the executed notebook: {exc.message}")
            return
        with self._out:
            display(FileLink(str(target), result_html_prefix="executed notebook: "))


def _shown(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


class LiveRun(RunRecord):
    """The run (or sweep) a magic returns in a kernel: the record its card keeps current.

    The card is its display: in the cell that showed the card the record is not echoed
    again (an echo would freeze the state it had); shown later, it shows the same card.
    """

    card: RunCard | SweepCard
    shown_in: int | None = None

    def _ipython_display_(self) -> None:
        if self.shown_in is not None and self.shown_in == _execution_count():
            return
        display(self.card)


def show_card(client: Client, run: dict[str, Any]) -> LiveRun:
    """Display a live card for ``run`` (a sweep's card for a sweep); returns the record it
    keeps current."""
    from .sweep_card import SweepCard  # it builds on this module's parts

    record = LiveRun(run)
    record.card = SweepCard(client, record) if is_sweep(run) else RunCard(client, record)
    record.shown_in = _execution_count()
    display(record.card)
    shared_poll(client).watch(record.card)
    return record


class RunTable(w.VBox):
    """Runs as a live table; choosing one below opens its live card."""

    COLUMNS = ("id", "name", "state", "site", "created_at", "elapsed")

    def __init__(self, client: Client, runs: list[RunRecord]):
        self._client = client
        self._runs = {r["id"]: r for r in runs}
        self._rows = w.HTML(self._table())
        self._picker = w.Dropdown(
            options=[("open a run's card…", "")] + [(f"{r.get('name')} ({r['id']})", r["id"])
                                                     for r in runs],
            layout=w.Layout(width="max-content"))
        self._out = w.Output()
        super().__init__([self._rows, self._picker, self._out],
                         _dom_classes=["mantik-runs-table"])
        self._picker.observe(self._on_pick, "value")

    def __repr__(self) -> str:
        return f"RunTable({len(self._runs)} runs)"

    def watched_runs(self) -> set[str]:
        """The rows' runs that are still active."""
        return {run_id for run_id, run in self._runs.items() if not run.terminal}

    def refresh(self, runs: dict[str, RunRecord]) -> bool:
        """Take fresh records of its rows (re-rendered: their elapsed time goes on too)."""
        changed = False
        mine = [run_id for run_id in runs if run_id in self._runs]
        for run_id in mine:
            changed = self._runs[run_id].replace(runs[run_id]) or changed
        if mine:
            self._rows.value = self._table()
        return changed

    def poll_failed(self, error: ClientError) -> None:
        """The table keeps its rows; the next tick tries again."""

    def _table(self) -> str:
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.COLUMNS)
        rows = []
        for run in self._runs.values():
            cells = {c: html.escape(str(run.get(c) or "")) for c in self.COLUMNS}
            cells.update(state=badge(run.get("state", "")), elapsed=elapsed(run),
                         created_at=str(run.get("created_at", ""))[:19].replace("T", " "))
            rows.append(f"<tr data-run-id='{html.escape(run['id'])}'>"
                        + "".join(f"<td>{cells[c]}</td>" for c in self.COLUMNS) + "</tr>")
        if not rows:
            return "<i>no runs</i>"
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def _on_pick(self, change: dict) -> None:
        self._out.clear_output()
        if change["new"]:
            with self._out:
                show_card(self._client, self._runs[change["new"]])


def show_table(client: Client, runs: list[RunRecord]) -> RunTable:
    """Display a live runs table for ``runs``."""
    table = RunTable(client, runs)
    display(table)
    shared_poll(client).watch(table)
    return table
