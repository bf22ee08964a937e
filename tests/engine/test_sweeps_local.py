"""A sweep on the local site through the CLI: its points as processes, at most
MaxConcurrent at once, each in ``points/<index>/`` with its own MLflow child run."""

from __future__ import annotations

import time

from helpers import make_notebook
from mlflow.tracking import MlflowClient


def test_local_points_run_as_processes_at_most_max_concurrent(cli, session_home, tmp_path):
    nb = make_notebook(
        tmp_path / "train.ipynb", "lr: float = 0.1",
        "import os, time, mlflow\nwith mlflow.start_run():\n"
        "    mlflow.log_metric('t_start', time.time())\n"
        "    mlflow.log_metric('score', lr)\n    time.sleep(1)\n"
        "    mlflow.log_metric('t_end', time.time())\n"
        "    mlflow.set_tag('point', os.environ['MANTIK_POINT'])")
    plan = cli.json("submit", str(nb), "--sweep", "lr=0.1,0.2,0.3", "--max-concurrent", "2",
                    "--dry-run")
    assert [p["values"] for p in plan["points"]] == [{"lr": "0.1"}, {"lr": "0.2"},
                                                     {"lr": "0.3"}]
    assert plan["arrays"] == [{"site": "local", "resources": {}, "points": [0, 1, 2]}]
    sweep_id = cli("submit", str(nb), "--sweep", "lr=0.1,0.2,0.3", "--max-concurrent",
                   "2").stdout.strip()
    deadline = time.monotonic() + 300
    while (sweep := cli.json("show", sweep_id))["state"] not in ("COMPLETED", "FAILED"):
        assert time.monotonic() < deadline, sweep
        time.sleep(0.5)
    assert sweep["state"] == "COMPLETED" and sweep["native_state"] == "3 points: 3 COMPLETED"
    results = cli.json("results", sweep_id, "--sort", "score")
    assert [r["parameters"]["lr"] for r in results["rows"]] == [0.1, 0.2, 0.3]
    assert results["rows"][0]["best"]
    client = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    children = [client.get_run(client.search_runs(
        [sweep["mlflow_experiment_id"]],
        filter_string=f"tags.`mantik.run_id` = '{r['run_id']}'")[0].info.run_id)
        for r in results["rows"]]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {sweep["mlflow_run_id"]}
    assert [c.data.tags["point"] for c in children] == ["0", "1", "2"]
    spans = [(c.data.metrics["t_start"], c.data.metrics["t_end"]) for c in children]
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) <= 2
    point = cli.json("show", results["rows"][2]["run_id"])
    assert point["work_dir"].endswith("/points/2") and point["sweep_id"] == sweep_id
    assert "Executing notebook" in cli("logs", point["id"]).stdout
