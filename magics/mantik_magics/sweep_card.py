"""The live card of a sweep: its state, a progress bar with counts per state, the best
point so far and a cancel that ends every unfinished point.

The kernel's shared poll (``poll.py``) refreshes the sweep's own record while it is active;
the engine rewrites that record whenever a point changes state (its ``native_state``
counts the points), so the card reads the sweep's results (one request: every point's
state and metrics) only when the record changed. Counts and the best point therefore come
from one answer and move together.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

import ipywidgets as w

from .client import Client
from .errors import ClientError
from .records import TERMINAL, RunRecord, elapsed
from .widgets import _action, _shown, badge

#: the counts always shown, in this order; any other state's count follows when non-zero
SHOWN_COUNTS = ("COMPLETED", "FAILED", "RUNNING", "QUEUED")


class SweepCard(w.VBox):
    """One sweep: state, progress of its points, the best point so far, cancel."""

    def __init__(self, client: Client, sweep: RunRecord):
        self._client = client
        self._sweep = sweep
        self._results: dict[str, Any] = {"rows": [], "metric": None}
        self._note = ""  # why what the card shows may be stale, until a refresh succeeds
        self._header = w.HTML()
        self._message = w.HTML()
        self._bar = w.IntProgress(min=0, max=1, value=0)
        self._counts = w.HTML(_dom_classes=["mantik-sweep-counts"])
        self._best = w.HTML(_dom_classes=["mantik-sweep-best"])
        self._link = w.HTML()
        self._cancel_button = _action("cancel", "stop", "cancel every unfinished point",
                                      self._on_cancel, button_style="danger")
        super().__init__([self._header, self._message, w.HBox([self._bar, self._counts]),
                          self._best, w.HBox([self._cancel_button, self._link])],
                         _dom_classes=["mantik-card", "mantik-sweep-card"])
        self._read_results()
        self._render()

    def __repr__(self) -> str:
        # no state: a notebook saved without widget state keeps this text
        sweep = self._sweep
        return f"<sweep card: {sweep.get('id')} {sweep.get('name')!r} on {sweep.get('site')}>"

    @property
    def run(self) -> RunRecord:
        """The sweep's record this card shows, kept current in place."""
        return self._sweep

    # --- the shared poll's side (poll.Watched)

    def watched_runs(self) -> set[str]:
        """The sweep while any of its points is unfinished (its record is then active)."""
        return set() if self._sweep.terminal else {self._sweep["id"]}

    def refresh(self, runs: dict[str, RunRecord]) -> bool:
        """Take the sweep's fresh record; when it changed, its points' results too."""
        fresh = runs.get(self._sweep["id"])
        if fresh is None:
            return False
        self._note = ""
        changed = self._sweep.replace(fresh)
        if changed:
            self._read_results()
        self._render()
        return changed

    def poll_failed(self, error: ClientError) -> None:
        """Say why the card may be stale."""
        self._say(f"could not refresh: {error.message}")

    # --- reading and rendering

    def _read_results(self) -> None:
        try:
            self._results = self._client.results(self._sweep["id"])
        except ClientError as exc:
            self._say(f"could not read the sweep's results: {exc.message}")

    def counts(self) -> Counter[str]:
        """The sweep's points per state (from its latest results)."""
        return Counter(row["state"] for row in self._results["rows"])

    def _render(self) -> None:
        sweep = self._sweep
        state = sweep.get("state", "")
        self._header.value = (
            f"<b>{html.escape(str(sweep.get('name')))}</b> &nbsp;{badge(state)}"
            f" &nbsp;sweep <code>{html.escape(str(sweep.get('id')))}</code> on "
            f"<b>{html.escape(str(sweep.get('site')))}</b> &nbsp;{elapsed(sweep)}")
        text = self._note or sweep.get("reason") or _submitting(sweep.get("progress"))
        self._message.value = f"<i>{html.escape(text)}</i>" if text else ""
        counts = self.counts()
        total = sum(counts.values())
        ended = sum(n for s, n in counts.items() if s in TERMINAL)
        self._bar.max, self._bar.value = max(total, 1), ended
        self._bar.bar_style = ("danger" if counts["FAILED"] or counts["TIMEOUT"] else
                               "success" if total and counts["COMPLETED"] == total else "")
        shown = [*SHOWN_COUNTS, *sorted(set(counts) - set(SHOWN_COUNTS))]
        self._counts.value = ", ".join(
            f'<span data-state="{s}">{counts[s]} {s}</span>' for s in shown
            if s in SHOWN_COUNTS or counts[s]) + f" of {total} points"
        self._best.value = self._best_text()
        link = sweep.get("mlflow_url")
        self._link.value = (f'<a href="{html.escape(link)}" target="_blank">MLflow parent '
                            "run</a>") if link else ""
        _shown(self._cancel_button, not sweep.terminal)

    def _best_text(self) -> str:
        metric = self._results["metric"]
        if not metric:
            return "<i>no objective: Sweep.Objective ranks the points</i>"
        best = next((row for row in self._results["rows"] if row["best"]), None)
        if best is None:
            return f"best: <i>no point has logged {html.escape(metric)} yet</i>"
        values = ", ".join(f"{k}={v!r}" for k, v in best["parameters"].items())
        return (f"best: point {best['point']} ({html.escape(values)}): "
                f"<b>{html.escape(metric)} = {best['metrics'][metric]:.6g}</b> "
                f"({html.escape(self._results['goal'])})")

    def _say(self, text: str) -> None:
        self._note = text
        self._message.value = f"<i>{html.escape(text)}</i>"

    # --- actions

    def _on_cancel(self, _button: w.Button) -> None:
        self._cancel_button.disabled = True
        try:
            self._sweep.replace(self._client.cancel(self._sweep["id"]))
        except ClientError as exc:
            self._say(f"could not cancel: {exc.message}")
        else:
            self._read_results()
        self._cancel_button.disabled = False
        self._render()


def _submitting(progress: dict[str, Any] | None) -> str:
    """A sweep's submission in words while it is SUBMITTING (its points are recorded and
    its arrays submitted in the server's background): ``uploading: 3 of 12 files``."""
    if not progress:
        return ""
    files = progress["files_total"]
    return progress["phase"] + (f": {progress['files_done']} of {files}" if files else "")
