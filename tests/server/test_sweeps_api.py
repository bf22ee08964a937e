"""A sweep through the REST API on the local site: its points as processes, at most
MaxConcurrent at once, each in ``points/<index>/`` with its own MLflow child run, and
``GET runs/{id}/results`` ranking them (every response checked against openapi.yaml)."""

from __future__ import annotations

from helpers import make_notebook
from mlflow.tracking import MlflowClient

TRAIN = ("import os, time, mlflow\nwith mlflow.start_run():\n"
         "    mlflow.log_metric('t_start', time.time())\n"
         "    mlflow.log_metric('score', lr)\n    time.sleep(1)\n"
         "    mlflow.log_metric('t_end', time.time())\n"
         "    mlflow.set_tag('point', os.environ['MANTIK_POINT'])")


async def test_a_local_sweep_runs_at_most_max_concurrent_and_is_ranked(api, jp_root_dir,
                                                                     mlflow_uri):
    make_notebook(jp_root_dir / "train.ipynb", "lr: float = 0.1", TRAIN)
    body = {"notebook": "train.ipynb", "sweep_texts": ["lr=0.1,0.3,0.2"], "max_concurrent": 2,
            "sweep": {"Objective": {"Metric": "score", "Goal": "maximize"}}}
    plan = await api.json("POST", "sweeps/plan", body)  # the submit dialog's preview
    assert [p["parameters"]["lr"] for p in plan["points"]] == [0.1, 0.3, 0.2]
    assert [a["points"] for a in plan["arrays"]] == [[0, 1, 2]] and plan["max_concurrent"] == 2
    bad = await api.json("POST", "sweeps/plan", {**body, "sweep_texts": ["lr=0.1,x"]},
                         expect=422)
    assert "Sweep point 1" in bad["message"] and "'x'" in bad["message"]
    alone = await api.json("POST", "sweeps/plan", {"notebook": "train.ipynb"}, expect=400)
    assert alone["reason"] == "bad_request" and "sweep" in alone["message"]
    assert (await api.json("GET", "runs"))["total"] == 0  # a preview records nothing
    bad = await api.json("POST", "runs", {"notebook": "train.ipynb",
                                          "sweep_texts": ["lr=0.1,fast"]}, expect=422)
    assert "Sweep point 1 (lr='fast')" in bad["message"]  # checked before it is recorded
    assert (await api.json("GET", "runs"))["total"] == 0
    sweep = await api.json("POST", "runs", body, expect=201)
    # answered at once, like a single run: its points and array follow in the background
    assert (sweep["state"], sweep["native_state"]) == ("SUBMITTING", "3 points")
    assert sweep["sweep_id"] == sweep["id"] and sweep["point"] is None
    queued = await api.wait(sweep["id"], {"QUEUED", "RUNNING", "COMPLETED", "FAILED"},
                            timeout=300)
    assert queued["progress"] is None and queued["native_state"].startswith("3 points: ")
    done = await api.wait(sweep["id"], {"COMPLETED", "FAILED"}, timeout=600)
    assert done["state"] == "COMPLETED" and done["native_state"] == "3 points: 3 COMPLETED"

    results = await api.json("GET", f"runs/{sweep['id']}/results")
    assert results["metric"] == "score" and results["goal"] == "maximize"
    assert [r["parameters"]["lr"] for r in results["rows"]] == [0.3, 0.2, 0.1]
    assert [r["best"] for r in results["rows"]] == [True, False, False]
    assert all((r["duration"] or 0) >= 1 for r in results["rows"]), results["rows"]
    by_start = await api.json("GET", f"runs/{sweep['id']}/results", params={"sort": "t_start"})
    starts = [r["metrics"]["t_start"] for r in by_start["rows"]]
    assert by_start["goal"] == "minimize" and starts == sorted(starts)

    client = MlflowClient(mlflow_uri)
    children = [client.get_run((await api.json("GET", f"runs/{r['run_id']}"))["mlflow_run_id"])
                for r in sorted(results["rows"], key=lambda r: r["point"])]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {done["mlflow_run_id"]}
    assert [c.data.tags["point"] for c in children] == ["0", "1", "2"]
    spans = [(c.data.metrics["t_start"], c.data.metrics["t_end"]) for c in children]
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) <= 2
    point = await api.json("GET", f"runs/{results['rows'][0]['run_id']}")
    assert point["work_dir"].endswith("/points/1") and point["sweep_id"] == sweep["id"]
    log = await api.json("GET", f"runs/{point['id']}/logs")
    assert "Executing notebook" in log["data"]
    listed = await api.json("GET", "runs", params={"points": "false"})
    assert [r["id"] for r in listed["runs"]] == [sweep["id"]] and listed["total"] == 1
    points = await api.json("GET", "runs", params={"sweep": sweep["id"]})
    assert sorted(r["point"] for r in points["runs"]) == [0, 1, 2] and points["total"] == 3
    refused = await api.json("GET", f"runs/{point['id']}/results", expect=409)
    assert "is not a sweep" in refused["message"]
