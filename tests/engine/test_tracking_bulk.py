"""Many MLflow runs created at once (a sweep's children), on a database store (one
transaction) and on any other store (the public calls on a few threads): the runs read back
as MLflow's own ``create_run`` + ``log_batch`` make them, and a failure leaves none."""

from __future__ import annotations

import pytest

from mantik_jupyter.errors import BackendError
from mantik_jupyter.tracking import Tracker, new_run
from mantik_jupyter.tracking_bulk import NewRun


def children(parent: str, count: int) -> list[NewRun]:
    return [new_run(f"m{k}", f"sweep/{k}", {"lr": 0.1 * k, "name": "x"},
                    {"mlflow.parentRunId": parent, "mantik.sweep_id": "s"})
            for k in range(count)]


def as_read(tracker: Tracker, mlflow_id: str) -> tuple:
    """What a reader of the run sees, but what differs between any two runs."""
    run = tracker.client.get_run(mlflow_id)
    tags = {k: v for k, v in run.data.tags.items() if k not in ("mantik.run_id",
                                                                  "mlflow.runName")}
    return (run.info.status, run.info.lifecycle_stage, run.info.user_id,
            run.info.artifact_uri.replace(mlflow_id, "ID"), run.data.params, tags)


@pytest.mark.parametrize("store", ["sqlite", "file"])
def test_many_runs_are_created_as_single_ones_and_all_or_none(home, tmp_path, monkeypatch,
                                                              store):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = None if store == "sqlite" else (tmp_path / "mlruns").as_uri()
    tracker = Tracker(home, uri)
    parent, experiment = tracker.start(run_id="s", name="sweep", experiment="e",
                                       parameters={}, tags={})
    single, _ = tracker.start(run_id="m9", name="sweep/9", experiment="e",
                              parameters={"lr": 0.9, "name": "x"},
                              tags={"mlflow.parentRunId": parent, "mantik.sweep_id": "s"})

    ids, experiment_id = tracker.start_many("e", children(parent, 5))
    assert experiment_id == experiment and len(set(ids)) == 5
    expected = as_read(tracker, single)
    for k, mlflow_id in enumerate(ids):
        status, stage, user, artifacts, params, tags = as_read(tracker, mlflow_id)
        assert (status, stage, user, artifacts, tags) == (*expected[:4], expected[5])
        assert params == {"lr": str(0.1 * k), "name": "x"}
        run = tracker.client.get_run(mlflow_id)
        assert run.info.run_name == f"sweep/{k}" and run.data.tags["mantik.run_id"] == f"m{k}"
    found = tracker.client.search_runs([experiment],
                                       f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(found) == 6

    # the last run fails: a NULL param breaks the transaction; a name MLflow refuses fails
    # its log_batch while the others are created
    bad = {"sqlite": {"v": None}, "file": {"v*?": "x"}}[store]
    with pytest.raises(BackendError, match=r"MLflow tracking at .*(NOT NULL|v\*\?)"):
        tracker.start_many("e", [*children(parent, 3), NewRun("bad", bad, {})])
    assert len(tracker.client.search_runs([experiment])) == 7  # none of the four is left
