"""Widget figures: engine requests per minute a kernel sends with 10 run cards and a runs
table shown, while their runs are active and once all have ended (goal: 0).

Real local runs (a notebook that sleeps) through the in-process client, counted at the
client: each call is one REST request for a kernel started by the Jupyter server. Shown as
a ratio to what one timer per widget at the same cadence would send (11 widgets).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import figure

CARDS = 10
WINDOW = 30.0  # seconds measured in each phase
NOTEBOOK = ('{"cells": [{"cell_type": "code", "id": "sleep", "metadata": {}, "outputs": [],'
            ' "execution_count": null, "source": "import time\\ntime.sleep(600)"}],'
            ' "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",'
            ' "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}')


class CountingClient:
    """The in-process client, counting the engine requests made through it."""

    def __init__(self, client):
        self._client = client
        self.calls = 0

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls += 1
            return attr(*args, **kwargs)

        return counted


def measure(client: CountingClient, poll, seconds: float) -> tuple[float, int, int]:
    """Requests per minute through ``client`` over the next ``seconds``; requests and poll
    ticks in that time."""
    calls, ticks = client.calls, poll.ticks
    time.sleep(seconds)
    calls, ticks = client.calls - calls, poll.ticks - ticks
    return calls * 60 / seconds, calls, ticks


def main() -> None:
    from mantik_magics.local import LocalClient
    from mantik_magics.poll import shared_poll
    from mantik_magics.records import RunRecord
    from mantik_magics.widgets import RunCard, RunTable

    with tempfile.TemporaryDirectory() as tmp:
        nb = Path(tmp) / "project" / "sleep.ipynb"  # alone: the bundle is its folder
        nb.parent.mkdir()
        nb.write_text(NOTEBOOK)
        os.environ["MANTIK_JUPYTER_HOME"] = str(Path(tmp) / "home")
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        local = LocalClient()
        runs = [local.submit({"notebook": str(nb), "site": "local", "name": f"bench {i}"})
                for i in range(CARDS)]
        client = CountingClient(local)
        poll = shared_poll(client)
        shown = [RunCard(client, RunRecord(r)) for r in runs]
        shown.append(RunTable(client, [RunRecord(r) for r in runs]))
        for widget in shown:
            poll.watch(widget)
        time.sleep(10)  # past the first quick ticks after the runs start
        active, calls, ticks = measure(client, poll, WINDOW)
        for run in runs:
            local.cancel(run["id"])
        deadline = time.monotonic() + 120
        while poll.running and time.monotonic() < deadline:
            time.sleep(0.2)
        ended, _, _ = measure(client, poll, WINDOW)
    figure(f"engine requests/min, {CARDS} cards + a table, runs active", active, "req/min")
    figure("  as a ratio to one timer per widget at the same cadence",
           calls / max(1, ticks * len(shown)), "x",
           f"{ticks} ticks, {len(shown)} widgets share one poll")
    figure("  once all runs ended", ended, "req/min", "goal 0")
    figure("  poll thread still running once all ended", int(poll.running), "count", "goal 0")


if __name__ == "__main__":
    main()
