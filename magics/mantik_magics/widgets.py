"""ipywidgets for runs: a live run card and an interactive runs table.

A card polls its run from a daemon thread (adaptive: 0.5 s after a change, up to 5 s when
quiet) and stops once the run has ended, so the kernel stays usable meanwhile. Widget
updates from that thread go out on the kernel's IOPub channel like any other output.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w
from IPython.display import display

from .client import Client
from .errors import ClientError
from .records import RunRecord, elapsed, summary
from .watch import LOG_CHUNK

POLL_MIN = 0.5
POLL_MAX = 5.0
TAIL_LINES = 25
TAIL_CHARS = 64 * 1024
STATE_COLOURS = {"COMPLETED": "#2e7d32", "FAILED": "#c62828", "CANCELLED": "#6d4c41",
                 "TIMEOUT": "#c62828", "RUNNING": "#1565c0", "QUEUED": "#6a1b9a"}


def _badge(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#555")
    return (f'<span style="background:{colour};color:white;border-radius:3px;'
            f'padding:0 6px;font-weight:bold">{html.escape(state)}</span>')


def _mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


class RunCard(w.VBox):
    """One run: state, elapsed time, log tail toggle, cancel button and MLflow link."""

    def __init__(self, client: Client, run: dict[str, Any]):
        self._client = client
        self._run = RunRecord(run)
        self._lock = threading.Lock()
        self._log_offset = 0
        self._log_tail = ""
        self._header = w.HTML()
        self._message = w.HTML()
        self._link = w.HTML()
        self._log_button = w.ToggleButton(description="log", icon="align-left",
                                          tooltip="show the end of the run's log")
        self._cancel_button = w.Button(description="cancel", icon="stop",
                                       button_style="danger", tooltip="cancel this run")
        self._log = w.HTML(layout=w.Layout(display="none"))
        # while SUBMITTING: the phase, a bar and bytes/files/rate (the run JSON's progress)
        self._progress = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(display="none"))
        self._progress_text = w.HTML()
        super().__init__([self._header, self._message,
                          w.HBox([self._progress, self._progress_text]),
                          w.HBox([self._log_button, self._cancel_button, self._link]),
                          self._log])
        self._log_button.observe(self._on_log_toggle, "value")
        self._cancel_button.on_click(self._on_cancel)
        self._render()

    def __repr__(self) -> str:
        return f"RunCard{summary(self._run)}"

    def watch(self) -> None:
        """Keep the card current from a background thread until the run has ended."""
        if not self._run.terminal:
            threading.Thread(target=self._poll, name=f"mantik-card-{self._run['id']}",
                             daemon=True).start()

    def _render(self) -> None:
        run = self._run
        self._header.value = (
            f"<b>{html.escape(str(run.get('name')))}</b> &nbsp;{_badge(run.get('state', ''))}"
            f" &nbsp;run <code>{html.escape(str(run.get('id')))}</code> on "
            f"<b>{html.escape(str(run.get('site')))}</b> &nbsp;{elapsed(run)}")
        reason = run.get("reason")
        self._message.value = f"<i>{html.escape(reason)}</i>" if reason else ""
        link = run.get("mlflow_url")
        if link:
            self._link.value = f'<a href="{html.escape(link)}" target="_blank">MLflow run</a>'
        elif run.get("mlflow_run_id"):
            self._link.value = f"MLflow run <code>{html.escape(run['mlflow_run_id'])}</code>"
        self._cancel_button.disabled = run.terminal
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

    def _poll(self) -> None:
        delay = POLL_MIN
        while self.comm is not None:
            time.sleep(delay)
            try:
                run = RunRecord(self._client.run(self._run["id"]))
                changed = run != self._run
                self._run = run
                if self._log_button.value:
                    changed = self._read_log() or changed
            except ClientError as exc:
                self._message.value = f"<i>could not refresh: {html.escape(exc.message)}</i>"
                changed = False
            else:
                self._render()
            if self._run.terminal:
                return
            delay = POLL_MIN if changed else min(POLL_MAX, delay * 1.5)

    def _on_log_toggle(self, change: dict) -> None:
        self._log.layout.display = "block" if change["new"] else "none"
        if not change["new"]:
            return
        try:
            self._read_log()
            self._run = RunRecord(self._client.run(self._run["id"]))
        except ClientError as exc:
            self._message.value = f"<i>could not read the log: {html.escape(exc.message)}</i>"
            return
        self._render()

    def _on_cancel(self, _button: w.Button) -> None:
        self._cancel_button.disabled = True
        try:
            self._run = RunRecord(self._client.cancel(self._run["id"]))
        except ClientError as exc:
            self._message.value = f"<i>could not cancel: {html.escape(exc.message)}</i>"
        self._render()


def show_card(client: Client, run: dict[str, Any]) -> RunCard:
    """Display a live card for ``run``."""
    card = RunCard(client, run)
    display(card)
    card.watch()
    return card


class RunTable(w.VBox):
    """Runs as a table; choosing one below opens its live card."""

    COLUMNS = ("id", "name", "state", "site", "created_at", "elapsed")

    def __init__(self, client: Client, runs: list[dict[str, Any]]):
        self._client = client
        self._runs = {r["id"]: r for r in runs}
        self._picker = w.Dropdown(
            options=[("open a run's card…", "")] + [(summary(r), r["id"]) for r in runs],
            layout=w.Layout(width="max-content"))
        self._out = w.Output()
        super().__init__([w.HTML(self._table(runs)), self._picker, self._out])
        self._picker.observe(self._on_pick, "value")

    def __repr__(self) -> str:
        return f"RunTable({len(self._runs)} runs)"

    def _table(self, runs: list[dict[str, Any]]) -> str:
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.COLUMNS)
        rows = []
        for run in runs:
            cells = {**run, "state": _badge(run.get("state", "")), "elapsed": elapsed(run),
                     "created_at": str(run.get("created_at", ""))[:19].replace("T", " ")}
            rows.append("<tr>" + "".join(
                f"<td>{cells[c] if c == 'state' else html.escape(str(cells.get(c) or ''))}</td>"
                for c in self.COLUMNS) + "</tr>")
        if not rows:
            return "<i>no runs</i>"
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def _on_pick(self, change: dict) -> None:
        self._out.clear_output()
        if change["new"]:
            with self._out:
                show_card(self._client, self._runs[change["new"]])
