"""Sweeps and schedules in the magics with the engine in the kernel: the sweep card, its
cancel, ``%mantik_results`` and the live schedules table.

Real kernels, real local jobs (the local site runs a sweep's points as processes), real
MLflow; the test plays the frontend by sending widget events on the card's comms.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from helpers import make_notebook
from test_magics_in_process import SLOW, kernel, shows, widget_id, widget_update  # noqa: F401

from mantik_jupyter.schedule import cron_in_words
from mantik_jupyter.service import RunService

TRAIN = "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('score', lr)"
POLL_STOPPED = ("from mantik_magics.poll import shared_poll\n"
                "poll = shared_poll(get_ipython().magics_manager.registry['MantikMagics'].client)\n"
                "import time\nt = time.monotonic()\n"
                "while poll.running and time.monotonic() - t < 60: time.sleep(0.05)\n")


def shown(result, *texts: str) -> bool:
    """True if a widget the cell opened or updated shows all ``texts`` in one value."""
    return any(m["msg_type"] in ("comm_open", "comm_msg")
               and shows(m["content"]["data"].get("state", {}), *texts)
               for m in result.messages)


def test_a_sweep_cell_shows_its_card_to_the_end_and_its_results_rank_the_points(
        kernel, home, tmp_path):  # noqa: F811 - the kernel fixture
    make_notebook(tmp_path / "train.ipynb", "lr: float = 0.1", TRAIN)
    swept = kernel.run("%%mantik_submit --notebook train.ipynb --wait\n"
                       "Sweep:\n  Grid: {lr: [0.1, 0.3, 0.2]}\n"
                       "  Objective: {Metric: score, Goal: maximize}\n", timeout=600)
    assert swept.status == "ok", swept.stderr
    sweep = next(r for r in RunService(home).list() if r.is_sweep)
    assert f"submitted sweep {sweep.id} ({sweep.name}, 3 points: " in swept.stdout
    assert swept.stdout.endswith(f"sweep {sweep.id}: COMPLETED (3 points: 3 COMPLETED)\n")
    assert swept.value == ""  # the card is the display: the record is not echoed
    assert shown(swept, "3 COMPLETED", "0 FAILED", "0 RUNNING", "0 QUEUED", "of 3 points")
    assert shown(swept, "best: point", "lr=0.3", "score = 0.3", "maximize")
    # the returned record is the one the card shows; cancel is gone, the poll stopped
    after = kernel.run(POLL_STOPPED + "print(_['state'], _.card.counts()['COMPLETED'], "
                       "_.card._cancel_button.layout.display, poll.running)")
    assert after.stdout == "COMPLETED 3 none False\n", after.stderr

    frame = kernel.run(f"r = %mantik_results {sweep.id}\n"
                       "print(type(r).__name__, list(r['params.lr']), list(r['best']), "
                       "list(r['state']), r.attrs['metric'])")
    assert frame.stdout == ("DataFrame [0.3, 0.2, 0.1] [True, False, False] "
                            "['COMPLETED', 'COMPLETED', 'COMPLETED'] score\n"), frame.stderr
    text = kernel.run("import sys\nsys.modules['pandas'] = None  # as if not installed\n"
                      f"t = %mantik_results {sweep.id[:6]}\nprint(type(t).__name__)\nt")
    lines = text.value.splitlines()
    assert text.stdout == "ResultList\n", text.stderr
    assert lines[0] == f"sweep {sweep.id}: 3 point(s), ranked by score (maximize)"
    assert lines[1].split() == ["point", "state", "params.lr", "metrics.score", "duration",
                                "site", "run_id", "reason"]
    assert lines[2].split()[:5] == ["*", "1", "COMPLETED", "0.3", "0.3"]
    assert [line.split()[2] for line in lines[3:]] == ["0.2", "0.1"]


def test_cancel_on_the_sweep_card_cancels_every_unfinished_point(kernel, home, tmp_path):  # noqa: F811
    make_notebook(tmp_path / "slow.ipynb", "k: int = 0", SLOW)
    submitted = kernel.run("sw = %mantik_submit --notebook slow.ipynb --sweep k=1,2 "
                           "--max-concurrent 1")
    assert submitted.status == "ok", submitted.stderr
    kernel.wait_for(widget_update("1 RUNNING"))  # the other point waits for it (MaxConcurrent)
    kernel.comm_send(widget_id(submitted, "ButtonModel", description="cancel"),
                     {"method": "custom", "content": {"event": "click"}})
    kernel.wait_for(widget_update("2 CANCELLED"))
    service = RunService(home)
    sweep = next(r for r in service.list() if r.is_sweep)
    assert sweep.state == "CANCELLED"
    assert [p.state for p in service.points(sweep.id)] == ["CANCELLED", "CANCELLED"]
    after = kernel.run(POLL_STOPPED + "print(sw['state'], sw.card._cancel_button.layout.display,"
                       " poll.running)")
    assert after.stdout == "CANCELLED none False\n", after.stderr


def test_the_schedules_table_follows_a_pause_made_elsewhere(kernel, home, tmp_path):  # noqa: F811
    make_notebook(tmp_path / "p.ipynb", "n: int = 1", "print('n =', n)")
    # hourly, next at a minute ~5 min ahead: within the table's horizon, never during the test
    minute = (datetime.now(timezone.utc) + timedelta(minutes=5)).minute
    added = kernel.run(f"%mantik_submit --notebook p.ipynb --cron '{minute} * * * *' "
                       "--timezone UTC")
    assert added.status == "ok", added.stderr
    table = kernel.run("found = %mantik_schedules\nfound")
    assert table.status == "ok", table.stderr
    cron = f"{minute} * * * *"
    assert shown(table, "active", f"<span title='{cron}'>{cron_in_words(cron)}</span> (UTC)",
                 'data-state="QUEUED"')
    service = RunService(home)
    schedule = service.schedules()[0]
    service.pause_schedule(schedule["id"])  # cancels the occurrence waiting on the site
    # the table (and the list the magic returned) change without running the cell again
    kernel.wait_for(lambda m: widget_update("paused")(m)
                    and widget_update('data-state="CANCELLED"')(m))
    after = kernel.run(POLL_STOPPED + "print(found[0]['paused'], "
                       "found[0]['last_run']['state'], poll.running)")
    assert after.stdout == "True CANCELLED False\n", after.stderr
    service.remove_schedule(schedule["id"])
