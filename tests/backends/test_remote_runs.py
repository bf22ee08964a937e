"""End to end on both simulated gateways and on CSCS's own FirecREST server over real Slurm,
through the CLI as separate processes: real papermill and kernels in Slurm jobs, real MLflow,
the shipped sim presets and the ``firecrest-real`` profile."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from helpers import (
    ALL_SITES,
    REAL_FIRECREST,
    SLURM_SITES,
    follow_while_running,
    make_notebook,
    site_jobs,
    wait_for,
    write_config,
)
from mlflow.tracking import MlflowClient

SLOW_PRINT = "import time\nfor i in range({n}):\n    print(f'step {{i}}', flush=True)\n" \
             "    time.sleep({pause})"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


@pytest.mark.parametrize("site", ALL_SITES)
def test_notebook_completes_is_tracked_and_its_log_streams(cli, session_home, sim, tmp_path,
                                                            site):
    nb = make_notebook(
        tmp_path / "train.ipynb", "lr: float = 0.1  # learning rate\nepochs: int = 2",
        SLOW_PRINT.format(n=20, pause=0.5),  # 10 s: time to look while it runs
        "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('score', lr * epochs)",
    )
    run_id = cli("submit", str(nb), "--site", site, "-p", "lr=0.5", "-p", "epochs=4").stdout.strip()
    rest = follow_while_running(cli, run_id, b"step 1", timeout=240)
    assert b"step 19" in rest

    run = cli.json("show", run_id)
    assert run["state"] == "COMPLETED", run
    assert run["site"] == site and run["exit_code"] == 0
    assert run["script"].startswith("#!/bin/bash -l\n") and "papermill" in run["script"]
    assert run["bytes_uploaded"] > 0 and run["remote_job_id"] and run["work_dir"]

    client = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    tracked = client.get_run(run["mlflow_run_id"])
    assert tracked.info.status == "FINISHED"
    assert tracked.data.params == {"lr": "0.5", "epochs": "4"}
    assert tracked.data.metrics["score"] == 2.0
    assert tracked.data.tags["mantik.site"] == site
    artifacts = {a.path for a in client.list_artifacts(run["mlflow_run_id"], "mantik")}
    assert {"mantik/train.ipynb", "mantik/mantik-job.log"} <= artifacts

    whole = cli("logs", run_id).stdout.encode()
    for offset in (0, 9, len(whole) // 2, len(whole)):
        assert cli("logs", run_id, "--offset", str(offset)).stdout.encode() == whole[offset:]
    names = {e["path"] for e in cli.json("files", run_id)}
    assert {"train.ipynb", "MLproject", "mantik-output", "mantik-job.log"} <= names
    assert not any(name.startswith(".mantik") for name in names)


@pytest.mark.timeout(1500)  # twenty submissions to five sites on a shared machine
def test_failure_exit_code_cancel_and_time_limit_end_in_the_sites_true_state(
        cli, sim, real_firecrest, slurm_sites, tmp_path):
    """All at once on every site (Slurm's smallest limit is a minute, enforced up to ~90 s
    late, so the time-limit runs set the pace); and a run held until tomorrow on each site
    that is Slurm (--begin; the simulators' deferred starts: tests/server/test_schedules)."""
    boom = make_notebook(tmp_path / "boom.ipynb", "x: int = 1",
                         "print('before', flush=True)", "raise ValueError(f'boom {x * 42}')")
    slow = make_notebook(tmp_path / "slow" / "slow.ipynb", None,
                         SLOW_PRINT.format(n=600, pause=0.5))
    pre = write_config(tmp_path / "pre.yaml", {"Environment": {
        "PreRunCommandOnComputeNode": "echo 'preparing the node'; exit 3"}})
    limit = write_config(tmp_path / "limit.yaml", {"Resources": {"Runtime": "1m"}})
    runs = {}
    for site in ALL_SITES:
        runs[site, "timeout"] = cli("submit", str(slow), "--site", site, "--config", limit)
        runs[site, "failing"] = cli("submit", str(boom), "--site", site)
        runs[site, "exit3"] = cli("submit", str(boom), "--site", site, "--config", pre)
        runs[site, "cancel"] = cli("submit", str(slow), "--site", site)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    for site in (REAL_FIRECREST, *SLURM_SITES):
        runs[site, "held"] = cli("submit", str(boom), "--site", site, "--at", tomorrow.isoformat())
    runs = {key: proc.stdout.strip() for key, proc in runs.items()}

    for site in ALL_SITES:
        cancelled = runs[site, "cancel"]
        deadline = time.monotonic() + 300
        while "step 1" not in cli("logs", cancelled).stdout:
            assert time.monotonic() < deadline, "the slow notebook never printed"
            time.sleep(0.5)
        assert cli("cancel", cancelled).stdout.split() == [cancelled, "CANCELLED"]
        job = next(j for j in site_jobs(sim, site) if j["name"] == f"mantik-{cancelled}")
        assert job["state"] == "CANCELLED"  # on the site, not only in our records

    for site in (REAL_FIRECREST, *SLURM_SITES):
        held = runs[site, "held"]
        job = next(j for j in site_jobs(sim, site) if j["name"] == f"mantik-{held}")
        assert (job["state"], job["reason"]) == ("PENDING", "BeginTime"), job
        run = cli.json("show", held)
        assert run["state"] == "QUEUED" and run["reason"].startswith("starts at "), run
        assert datetime.fromisoformat(run["reason"][len("starts at "):]) >= tomorrow
        assert cli("cancel", held).stdout.split() == [held, "CANCELLED"]

    for site in ALL_SITES:
        run = wait_for(cli, runs[site, "failing"], TERMINAL)
        assert run["state"] == "FAILED" and "ValueError: boom 42" in run["reason"], run
        run = wait_for(cli, runs[site, "exit3"], TERMINAL)
        assert run["state"] == "FAILED" and run["exit_code"] == 3, run
        assert "preparing the node" in cli("logs", runs[site, "exit3"]).stdout
    for site in ALL_SITES:
        run = wait_for(cli, runs[site, "timeout"], TERMINAL, timeout=300)
        assert run["state"] == "TIMEOUT", run


def test_offline_tracking_site_imports_the_jobs_file_store(cli, session_home, sim, tmp_path):
    cli("sites", "add", "offline-daint", "--base", "sim-firecrest", "--offline-tracking")
    nb = make_notebook(
        tmp_path / "offline.ipynb", "lr: float = 0.1",
        "import mlflow, os\n"
        "assert os.environ['MLFLOW_TRACKING_URI'].startswith('file://')  # no server needed\n"
        "with mlflow.start_run():\n"
        "    mlflow.log_param('optimizer', 'adam')\n"
        "    mlflow.log_metric('loss', 0.5, step=1)\n"
        "    mlflow.log_metric('loss', 0.25, step=2)\n"
        "    open('note.txt', 'w').write('logged offline')\n"
        "    mlflow.log_artifact('note.txt')",
    )
    run = cli.json("submit", str(nb), "--site", "offline-daint", "--wait")
    assert run["state"] == "COMPLETED", run
    assert "MLFLOW_RUN_ID" not in run["script"]
    client = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    tracked = client.get_run(run["mlflow_run_id"])
    assert tracked.data.params == {"lr": "0.1", "optimizer": "adam"}
    history = client.get_metric_history(run["mlflow_run_id"], "loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.25)]
    assert "note.txt" in {a.path for a in client.list_artifacts(run["mlflow_run_id"])}
