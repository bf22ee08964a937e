"""The magics with no Jupyter server: the engine runs in the kernel's process.

Real kernels (papermill, jupyter_client), real local jobs, real MLflow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from helpers import make_notebook
from kernels import Kernel, kernel_env

from mantik_jupyter.service import RunService

SUBMIT_CELL = "%%mantik_submit --wait -p n=2\nResources:\n  Runtime: 5m\n"
SLOW = "import time\nfor i in range(600):\n    print(f'line {i}', flush=True)\n    time.sleep(0.3)"


def outputs_text(cell: dict) -> str:
    """Streams and text/plain results of an executed cell."""
    parts = []
    for out in cell["outputs"]:
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


@pytest.fixture
def kernel(tmp_path: Path, home: Path, tracking_uri: str):
    started = Kernel.start(tmp_path, kernel_env(home, tracking_uri))
    assert started.run("%load_ext mantik_magics").status == "ok"
    yield started
    started.shutdown()


def test_loading_the_extension_imports_nothing_heavy():
    code = ("import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
            "InteractiveShell.instance().run_line_magic('load_ext', 'mantik_magics')\n"
            "print(sorted(m for m in ('mlflow', 'papermill', 'mantik_jupyter', 'ipywidgets',"
            " 'urllib.request') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_papermill_submits_the_notebook_which_does_not_resubmit_itself(home, tmp_path):
    work = tmp_path / "project"
    nb = make_notebook(work / "self.ipynb", "n: int = 1", "%load_ext mantik_magics",
                       SUBMIT_CELL, "print('n is', n)")
    executed = tmp_path / "out" / "executed.ipynb"
    executed.parent.mkdir()
    try:
        papermill.execute_notebook(str(nb), str(executed), cwd=str(work),
                                   kernel_name="python3", progress_bar=False)
    finally:  # on failure too: the submit cell's output and the runs say what went wrong
        text = outputs_text(nbformat.read(str(executed), as_version=4).cells[2])
        print(text, [r.to_dict() for r in RunService(home).list()])
    assert f"packaging {nb} (the notebook in {work} that holds this cell)" in text

    service = RunService(home)
    runs = service.list()
    assert len(runs) == 1, [r.to_dict() for r in runs]  # the job did not submit again
    run = runs[0]
    assert run.state == "COMPLETED" and run.parameters == {"n": 2}
    assert f"run {run.id}: COMPLETED" in text
    # the card is the run's display: neither it nor an echo of the returned run freezes
    # the state it had when shown
    assert f"<run card: {run.id} '{run.name}' on local>" in text
    assert "QUEUED" not in text and f"<run {run.id}" not in text
    log = service.logs(run.id).data.decode()
    assert f"running as run {run.id} on site local; not submitting again" in log
    assert "n is 2" in log


def test_card_goes_live_while_the_kernel_stays_usable_then_manage_runs(kernel, home, tmp_path):
    make_notebook(tmp_path / "p.ipynb", "n: int = 1", "print('n =', n)")
    first = kernel.run("%%mantik_submit --notebook p.ipynb -p n=2 --name first\n"
                       "Resources: {Runtime: 10m}\n")
    assert first.status == "ok", first.stderr
    assert first.value == ""  # the card is the display: the returned run is not echoed
    assert kernel.run("print(40 + 2)").stdout == "42\n"  # not blocked by the run
    # the card, updated by the kernel's shared poll after the cell ended
    kernel.wait_for(widget_update('data-state="COMPLETED"'))
    # the returned run is the record the card keeps current; the poll stopped with the run
    after = kernel.run("from mantik_magics.poll import shared_poll\n"
                       "poll = shared_poll(get_ipython().magics_manager.registry"
                       "['MantikMagics'].client)\n"
                       "import time\nt = time.monotonic()\n"
                       "while poll.running and time.monotonic() - t < 60: time.sleep(0.05)\n"
                       "print(_['state'], poll.running)")
    assert after.stdout == "COMPLETED False\n", after.stderr
    run_id = RunService(home).list()[0].id

    rerun = kernel.run(f"second = %mantik_rerun {run_id[:6]} -p n=3 --wait\n"
                       "print(second['parent_id'], second['parameters'], second['state'])")
    assert rerun.stdout.splitlines()[-1] == f"{run_id} {{'n': 3}} COMPLETED", rerun.stderr

    logs = kernel.run(f"%mantik_logs {run_id}")
    assert "n = 2" in logs.stdout

    download = kernel.run(f"%mantik_download {run_id} mantik-output/p.ipynb --to got")
    assert download.stdout.strip() == f"downloaded {Path('got') / 'p.ipynb'}"
    assert "n = 2" in (tmp_path / "got" / "p.ipynb").read_text()
    by_prefix = kernel.run(f"%mantik_download {run_id[:6]} MLproject")
    assert by_prefix.stdout.strip() == f"downloaded mantik-runs/{run_id}/MLproject"
    whole = kernel.run(f"%mantik_download {run_id}")
    assert whole.stdout.strip() == f"downloaded mantik-runs/{run_id}"
    assert (tmp_path / "mantik-runs" / run_id / "mantik-output" / "p.ipynb").is_file()

    listing = kernel.run("runs = %mantik_runs --state completed --limit 5\n"
                         "print(len(runs), runs[0]['parent_id'] == runs[1]['id'])")
    assert listing.stdout.strip() == "2 True"

    table = kernel.run("%mantik_runs")  # pick a run in the table: its card opens
    kernel.comm_send(widget_id(table, "DropdownModel"),
                     {"method": "update", "state": {"index": 2}, "buffer_paths": []})
    kernel.wait_for(lambda m: m["msg_type"] in ("comm_open", "comm_msg") and shows(
        m["content"]["data"].get("state", {}), run_id, 'data-state="COMPLETED"'))

    sites = kernel.run("%mantik_sites").value.splitlines()
    assert "local" in [line.split()[0] for line in sites]

    # the ended card offers a download: its click copies the run's folder here again
    kernel.comm_send(widget_id(first, "ButtonModel", description="download"),
                     {"method": "custom", "content": {"event": "click"}})
    said = kernel.wait_for(widget_update(f"downloaded mantik-runs/{run_id}"))
    copy = said["content"]["data"]["state"]["value"].split("downloaded ")[1].split("<")[0]
    assert (tmp_path / copy / "mantik-output" / "p.ipynb").is_file(), copy


def interrupt_at(kernel: Kernel, service: RunService, marker: str):
    """An output watcher that presses Ctrl-C once ``marker`` is printed by a RUNNING run."""
    pressed = []

    def watch(msg: dict) -> None:
        if pressed or msg["msg_type"] != "stream" or marker not in msg["content"]["text"]:
            return
        pressed.append(service.list()[0].state)
        kernel.manager.interrupt_kernel()

    watch.pressed = pressed
    return watch


def widget_id(result, model: str, **state) -> str:
    """The comm id of the widget of this model (and state values) the cell displayed."""
    for msg in result.messages:
        data = msg["content"].get("data", {}).get("state", {})
        if (msg["msg_type"] == "comm_open" and data.get("_model_name") == model
                and all(data.get(k) == v for k, v in state.items())):
            return msg["content"]["comm_id"]
    raise AssertionError(f"no {model} {state} was displayed")


def shows(state: dict, *texts: str) -> bool:
    """True if one value of a widget's state holds all ``texts``."""
    return any(all(t in str(value) for t in texts) for value in state.values())


def widget_update(text: str):
    """A message predicate: a widget's new state holds ``text``."""
    return lambda m: (m["msg_type"] == "comm_msg"
                      and shows(m["content"]["data"].get("state", {}), text))


def test_follow_and_wait_stop_on_ctrl_c_and_the_card_shows_the_log_and_cancels(
        kernel, home, tmp_path):
    make_notebook(tmp_path / "slow.ipynb", None, SLOW)
    service = RunService(home)

    at_line_2 = interrupt_at(kernel, service, "line 2\n")
    waited = kernel.run("run = %mantik_submit --notebook slow.ipynb --follow",
                        on_message=at_line_2)
    run_id = service.list()[0].id
    assert waited.status == "ok", waited.stderr
    assert at_line_2.pressed == ["RUNNING"]
    assert "line 0\n" in waited.stdout
    assert f"stopped waiting; run {run_id} goes on (RUNNING)" in waited.stdout

    at_line_15 = interrupt_at(kernel, service, "line 15\n")  # not yet written: arrives live
    followed = kernel.run(f"%mantik_logs {run_id} --follow", on_message=at_line_15)
    assert followed.status == "ok"
    assert at_line_15.pressed == ["RUNNING"]
    assert "line 0\n" in followed.stdout  # from the start of the log, then live
    assert f"stopped following the log of run {run_id} (the run goes on)" in followed.stdout
    assert service.get(run_id).state == "RUNNING"

    # the card of the submit cell, used as the frontend does: show the log, press cancel
    kernel.comm_send(widget_id(waited, "ToggleButtonModel", description="log"),
                     {"method": "update", "state": {"value": True}, "buffer_paths": []})
    kernel.wait_for(widget_update("line "))  # the log tail, shown on the card
    kernel.comm_send(widget_id(waited, "ButtonModel", description="cancel"),
                     {"method": "custom", "content": {"event": "click"}})
    kernel.wait_for(widget_update("CANCELLED"))
    assert service.get(run_id).state == "CANCELLED"

    again = kernel.run(f"%mantik_cancel {run_id}")
    assert again.status == "error" and "already ended" in again.stderr


def test_submit_at_a_time_and_on_a_cron_then_list_the_schedules(kernel, home, tmp_path):
    from datetime import datetime, timedelta, timezone

    make_notebook(tmp_path / "p.ipynb", "n: int = 1", "print('n =', n)")
    at = (datetime.now(timezone.utc) + timedelta(minutes=10)).replace(microsecond=0)
    later = kernel.run(f"%mantik_submit --notebook p.ipynb --at {at.isoformat()}")
    assert later.status == "ok", later.stderr  # the card shows it; no stale record echoed
    run = RunService(home).list()[0]
    assert run.state == "QUEUED" and run.reason == f"starts at {at.isoformat()}"
    added = kernel.run("%mantik_submit --notebook p.ipynb --cron '0 3 * * 1' "
                       "--timezone Europe/Berlin")
    assert added.status == "ok" and "added schedule" in added.stdout, added.stderr
    listed = kernel.run("found = %mantik_schedules\nprint(found[0]['cron'], found[0]['timezone'],"
                        " found[0]['last_run']['state'])")
    assert listed.stdout.strip().splitlines()[-1] == "0 3 * * 1 Europe/Berlin QUEUED"
    bad = kernel.run("%mantik_submit --notebook p.ipynb --cron '0 3 * *'")
    assert bad.status == "error" and "Schedule.Cron" in bad.text("stderr") + str(bad.tracebacks)
    service = RunService(home)
    service.remove_schedule(service.schedules()[0]["id"])
    service.cancel(run.id)
    assert {r.state for r in service.list()} == {"CANCELLED"}
