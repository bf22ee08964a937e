"""Parameter sweeps end to end over the simulator and real Slurm, through the CLI: one job
array per group of points, one MLflow parent run with a child per point, results ranked."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import SITES, make_notebook, write_config
from mlflow.tracking import MlflowClient

from mantik_jupyter.sweeps import MAX_POINTS

TRAIN = ("import time, mlflow\n"
         "with mlflow.start_run():\n"
         "    mlflow.log_metric('t_start', time.time())\n"
         "    mlflow.log_metric('loss', abs(lr * epochs - 0.3) + (1 if fail else 0))\n"
         "    time.sleep(1)\n"
         "    mlflow.log_metric('t_end', time.time())\n"
         "if fail:\n"
         "    raise ValueError(f'diverged at lr={lr}')")
PARAMETERS = "lr: float = 0.1\nepochs: int = 1\nfail: bool = False"
#: sim-firecrest whose compute nodes cannot reach MLflow: jobs track to a file store
OFFLINE_SITE = "sim-firecrest-offline"
WAIT = 840  # seconds a CLI --wait may take: twelve kernels two at a time on a busy machine


@pytest.fixture
def train(tmp_path):
    return make_notebook(tmp_path / "train.ipynb", PARAMETERS, TRAIN)


def arrays_of(sim, sweep_id: str) -> list[dict]:
    """The simulator's job records of a sweep's arrays (named after the sweep id)."""
    return [j for j in sim.jobs() if j["name"].startswith(f"mantik-{sweep_id}-")]


def in_squeue(job_ids: list[str]) -> str:
    ids = ",".join(job_ids)
    return subprocess.run(["squeue", "-h", "-j", ids, "-t", "PD,CF,R,CG,S", "-o", "%i %T"],
                          capture_output=True, text=True).stdout.strip()


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("site", SITES)
def test_a_grid_runs_as_one_array_tracked_and_ranked(cli, session_home, sim, train, tmp_path,
                                                     site):
    """3 x 2 grid, Repeat 2: one array, bundle sent once, 12 points COMPLETED, 12 MLflow
    children under one parent, results sorted by the objective; MaxConcurrent 2 honoured."""
    config = write_config(tmp_path / "sweep.yaml", {"Sweep": {
        "Grid": {"lr": [0.05, 0.1, 0.3]}, "Repeat": 2, "MaxConcurrent": 2,
        "Objective": {"Metric": "loss", "Goal": "minimize"}}})
    sweep = json.loads(cli("submit", str(train), "--site", site, "--config", config,
                           "--sweep", "epochs=1,3", "--wait", "--json", timeout=WAIT).stdout)
    sweep_id = sweep["id"]
    assert sweep["state"] == "COMPLETED", sweep
    assert sweep["native_state"] == "12 points: 12 COMPLETED"

    arrays = arrays_of(sim, sweep_id)
    assert len(arrays) == 1, arrays  # one submission at the gateway for all 12 points
    job_dir = Path(arrays[0]["workdir"])
    assert (job_dir / "mantik-job.sh").read_text().count("#SBATCH --array=0-11%2") == 1
    assert sorted(p.name for p in (job_dir / "points").iterdir() if p.name != "state") == \
        sorted(str(i) for i in range(12))

    client = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    parent = client.get_run(sweep["mlflow_run_id"])
    assert parent.info.status == "FINISHED"
    assert json.loads(parent.data.params["sweep.grid"]) == {"lr": [0.05, 0.1, 0.3],
                                                           "epochs": ["1", "3"]}
    children = client.search_runs(
        [sweep["mlflow_experiment_id"]],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == 12
    seen = sorted((float(c.data.params["lr"]), int(c.data.params["epochs"])) for c in children)
    assert seen == sorted([(lr, ep) for lr in (0.05, 0.1, 0.3) for ep in (1, 3)] * 2)
    for child in children:
        lr, epochs = float(child.data.params["lr"]), int(child.data.params["epochs"])
        assert child.data.metrics["loss"] == pytest.approx(abs(lr * epochs - 0.3))
        assert child.info.status == "FINISHED"
    # MaxConcurrent 2: no three notebooks ever ran at once
    spans = [(c.data.metrics["t_start"], c.data.metrics["t_end"]) for c in children]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap <= 2, spans

    results = cli.json("results", sweep_id, "--json")
    losses = [row["metrics"]["loss"] for row in results["rows"]]
    assert losses == sorted(losses) and len(losses) == 12
    assert results["rows"][0]["best"] and not any(r["best"] for r in results["rows"][1:])
    # each point's own start and end (UNICORE's, from its task's state files): >= its sleep
    assert all((r["duration"] or 0) >= 1 for r in results["rows"]), results["rows"]
    assert {(r["parameters"]["lr"], r["parameters"]["epochs"]) for r in results["rows"][:4]} \
        == {(0.1, 3), (0.3, 1)}  # loss 0 (up to rounding), twice each: the best four
    csv = cli("results", sweep_id, "--csv").stdout.splitlines()
    assert csv[0].startswith("point,run_id,state") and len(csv) == 13
    point = results["rows"][0]["run_id"]
    assert "Executing notebook" in cli("logs", point).stdout  # its own log, papermill's
    names = {e["path"] for e in cli.json("files", point)}
    assert {"mantik-output", "mantik-job.log"} <= {n.rsplit("/", 1)[-1] for n in names}


def test_bad_sweeps_are_refused_before_anything_is_sent(cli, sim, train, tmp_path):
    """Each a one-line error naming the point or key and what is allowed; no record, no job."""
    before_runs = len(cli.json("runs"))
    before_jobs = len(sim.jobs())
    config = write_config(tmp_path / "fine.yaml", {"Sweep": {"Grid": {"lr": [0.1, 0.2]}}})
    dry = cli("submit", str(train), "--site", "sim-firecrest", "--config", config,
              "--sweep", "epochs=1,3", "--repeat", "3", "--dry-run").stdout
    assert "12 points in 1 array(s)" in dry and "nothing was sent" in dry
    cases = {
        "wrong type": ({"Grid": {"epochs": [1, 2]}, "Points": [{"lr": "fast"}]},
                       ["Sweep point 2 (lr='fast')", "expects float"]),
        "unknown": ({"Grid": {"momentum": [0.9]}}, ["unknown parameter 'momentum'"]),
        "empty": ({"Grid": {"lr": []}}, ["Sweep.Grid.lr", "non-empty list"]),
        "too many": ({"Grid": {"lr": list(range(MAX_POINTS)), "epochs": [1, 2]}},
                     [f"{2 * MAX_POINTS} points is too many", f"at most {MAX_POINTS}"]),
        "max concurrent": ({"Grid": {"lr": [0.1]}, "MaxConcurrent": 0},
                           ["Sweep.MaxConcurrent", "1 or more"]),
        "unknown resource": ({"Grid": {"Resources.Colour": ["red"]}},
                             ["unknown sweep dimension 'Resources.Colour'"]),
    }
    for case, (sweep, words) in cases.items():
        config = write_config(tmp_path / f"{case}.yaml", {"Sweep": sweep})
        proc = cli("submit", str(train), "--site", "sim-firecrest", "--config", config,
                   check=False)
        assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and all(w in lines[0] for w in words), (case, lines)
    proc = cli("submit", str(train), "--site", "sim-firecrest", "--sweep", "lr", check=False)
    assert proc.returncode == 2 and "NAME=VALUE1,VALUE2" in proc.stderr
    assert len(cli.json("runs")) == before_runs and len(sim.jobs()) == before_jobs


@pytest.mark.timeout(1500)
def test_a_site_grid_fails_one_point_per_site_and_reruns_only_those(cli, sim, train, tmp_path):
    """Site: [sim-unicore, sim-firecrest tracking offline] x fail: [no, yes]: two arrays
    (each once, though the gateways' replies to the submissions are lost), one results table
    with every point's metric (the offline points' file stores imported, one per point), the
    raising points FAILED with their reason; rerun --failed submits only them."""
    cli("sites", "add", OFFLINE_SITE, "--base", "sim-firecrest", "--offline-tracking")
    sites = ("sim-unicore", OFFLINE_SITE)
    config = write_config(tmp_path / "sites.yaml", {"Sweep": {
        "Grid": {"Site": list(sites), "fail": [False, True]},
        "Objective": {"Metric": "loss", "Goal": "maximize"}}})
    lost = sim.faults["injected"]["lost_reply"]
    sim.set_faults([{"route": r"/(rest/core|compute/[^/]+)/jobs/?$", "methods": ["POST"],
                     "lost_reply_rate": 1.0}])  # the job is made, then the reply dropped
    proc = cli("submit", str(train), "--config", config, "--json", "--wait", check=False,
               timeout=WAIT)
    assert sim.faults["injected"]["lost_reply"] - lost >= 2
    sim.set_faults([])
    sweep = json.loads(proc.stdout)
    sweep_id = sweep["id"]
    assert sweep["state"] == "FAILED" and sweep["reason"] == "2 of 4 points did not complete"
    assert len(arrays_of(sim, sweep_id)) == 2
    rows = cli.json("results", sweep_id)["rows"]
    assert {(r["site"], r["parameters"]["fail"], r["state"]) for r in rows} == {
        (site, fail, "FAILED" if fail else "COMPLETED") for site in sites
        for fail in (False, True)}
    assert all("diverged at lr=0.1" in r["reason"] for r in rows if r["state"] == "FAILED")
    # the failing points logged the higher loss the objective maximizes: best is among the rest
    assert [r["state"] for r in rows if r["best"]] == ["COMPLETED"], rows
    assert sorted(r["metrics"]["loss"] for r in rows) == pytest.approx([0.2, 0.2, 1.2, 1.2])
    offline = next(r for r in rows if r["site"] == OFFLINE_SITE)
    script = cli.json("show", offline["run_id"])["script"]
    assert 'MLFLOW_TRACKING_URI="file://$PWD/points/$MANTIK_POINT/mantik-mlruns"' in script
    assert "MLFLOW_RUN_ID" not in script  # the point's notebook starts its own offline run

    again = json.loads(cli("rerun", sweep_id, "--failed", "--wait", "--json", check=False,
                           timeout=WAIT).stdout)
    assert again["parent_id"] == sweep_id and again["sweep_id"] == again["id"]
    assert again["state"] == "FAILED" and again["native_state"] == "2 points: 2 FAILED"
    points = cli.json("results", again["id"])["rows"]
    assert sorted((r["site"], r["parameters"]["fail"]) for r in points) == sorted(
        (site, True) for site in sites)


@pytest.mark.timeout(600)
def test_a_small_max_array_size_splits_and_cancel_ends_every_task(cli, sim, tmp_path):
    """A site taking arrays of 5 gets 12 points as three arrays; one point is cancelled
    alone, then the sweep: no task is left in squeue and every point is CANCELLED."""
    cli("sites", "add", "sim-firecrest-5", "--base", "sim-firecrest", "--max-array-size", "5")
    idle = make_notebook(tmp_path / "idle.ipynb", "lr: float = 0.1", "print(lr)")
    asleep = write_config(tmp_path / "asleep.yaml", {"Environment": {  # no kernel starts
        "PreRunCommandOnComputeNode": "sleep 600"}})
    submitted = cli("submit", str(idle), "--site", "sim-firecrest-5", "--config", asleep,
                    "--sweep", "lr=1,2,3,4,5,6,7,8,9,10,11,12")
    sweep_id = submitted.stdout.strip()
    # its progress, one line per phase without a terminal: the points, then each array
    phases = [line.split(f"{sweep_id} ", 1)[1] for line in submitted.stderr.splitlines()
              if line.startswith(f"mantik-jupyter: {sweep_id} ")]
    assert phases[0] == "recording points (12 files)", submitted.stderr
    assert phases.count("submitting") == 3, submitted.stderr
    try:
        cancel_every_point(cli, sim, sweep_id)
    finally:  # a failed assertion leaves no task asleep in the machine's one Slurm
        cli("cancel", sweep_id, check=False)


def cancel_every_point(cli, sim, sweep_id: str) -> None:
    arrays = arrays_of(sim, sweep_id)
    assert len(arrays) == 3
    sizes = sorted(len(re.findall(r"^  \d+\) export ", Path(a["workdir"], "mantik-job.sh")
                                  .read_text(), re.MULTILINE)) for a in arrays)
    assert sizes == [2, 5, 5]  # one case line per task
    first = cli.json("results", sweep_id)["rows"][0]["run_id"]
    assert cli("cancel", first).stdout.split() == [first, "CANCELLED"]  # one task alone
    assert cli.json("show", sweep_id)["state"] in ("QUEUED", "RUNNING")
    ended = cli("cancel", sweep_id).stdout
    assert ended.split() == [cli.json("show", sweep_id)["id"], "CANCELLED"]
    native = [a["nativeId"] for a in arrays]
    assert not in_squeue(native), in_squeue(native)
    rows = cli.json("results", sweep_id)["rows"]
    assert len(rows) == 12 and {r["state"] for r in rows} == {"CANCELLED"}
