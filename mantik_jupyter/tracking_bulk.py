"""Creating many MLflow runs at once (a sweep's children): all or none, quickly.

MLflow has no call that creates several runs. On a database tracking store (the embedded
SQLite one, or a user's PostgreSQL/MySQL) one ``create_run`` plus ``log_batch`` costs ~20
database round trips, so the runs are written through MLflow's own store models in one
transaction instead (MLflow is pinned, so its models are the ones this was written for).
Elsewhere (a tracking server over REST) the public calls run on a few threads at once.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

#: at most this many requests at once to a tracking server
THREADS = 8


@dataclass(frozen=True)
class NewRun:
    """One MLflow run to create: its name, params (as text) and tags."""

    name: str
    params: dict[str, str]
    tags: dict[str, str]


def create_runs(client: Any, experiment_id: str, runs: list[NewRun]) -> list[str]:
    """Create ``runs`` in the experiment, RUNNING, with their params and tags; returns
    their MLflow ids in order. A failure leaves none of them and raises."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store  # noqa: SLF001 - the only way to the store
    if isinstance(store, SqlAlchemyStore):
        return _insert_runs(store, experiment_id, runs)
    return _create_runs_in_threads(client, experiment_id, runs)


def _insert_runs(store: Any, experiment_id: str, runs: list[NewRun]) -> list[str]:
    """The rows ``SqlAlchemyStore.create_run`` and ``log_batch`` write, for every run in
    one transaction of three multi-row inserts."""
    from mlflow.entities import LifecycleStage, RunStatus, SourceType
    from mlflow.store.tracking.dbmodels.models import SqlParam, SqlRun, SqlTag
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path

    experiment = store.get_experiment(experiment_id)  # raises if missing
    store._check_experiment_is_active(experiment)  # noqa: SLF001 - as create_run does
    started = int(time.time() * 1000)
    ids = [uuid.uuid4().hex for _ in runs]
    rows = [{"run_uuid": run_id, "name": run.name, "experiment_id": int(experiment_id),
             "artifact_uri": append_to_uri_path(experiment.artifact_location, run_id,
                                                store.ARTIFACTS_FOLDER_NAME),
             "source_type": SourceType.to_string(SourceType.UNKNOWN), "source_name": "",
             "entry_point_name": "", "user_id": run.tags.get(MLFLOW_USER, "unknown"),
             "status": RunStatus.to_string(RunStatus.RUNNING), "start_time": started,
             "end_time": None, "deleted_time": None, "source_version": "",
             "lifecycle_stage": LifecycleStage.ACTIVE}
            for run_id, run in zip(ids, runs, strict=True)]
    tags = [{"run_uuid": run_id, "key": k, "value": v}
            for run_id, run in zip(ids, runs, strict=True)
            for k, v in {MLFLOW_RUN_NAME: run.name, **run.tags}.items()]
    params = [{"run_uuid": run_id, "key": k, "value": v}
              for run_id, run in zip(ids, runs, strict=True) for k, v in run.params.items()]
    with store.ManagedSessionMaker(read_only=False) as session:
        for model, values in ((SqlRun, rows), (SqlTag, tags), (SqlParam, params)):
            if values:
                session.execute(model.__table__.insert(), values)
    return ids


def create_one(client: Any, experiment_id: str, run: NewRun) -> str:
    """Create one run through MLflow's public calls (``create_run``, then ``log_batch``
    for its params); returns its id. A run whose params fail is deleted again."""
    from mlflow.entities import Param

    created = client.create_run(experiment_id, run_name=run.name, tags=run.tags)
    run_id = created.info.run_id
    try:
        if run.params:
            client.log_batch(run_id, params=[Param(k, v) for k, v in run.params.items()])
    except Exception:
        client.delete_run(run_id)
        raise
    return run_id


def _create_runs_in_threads(client: Any, experiment_id: str, runs: list[NewRun]) -> list[str]:
    """The public calls, ``THREADS`` runs at a time; those created are deleted again
    when any fails."""
    with ThreadPoolExecutor(min(THREADS, len(runs) or 1)) as pool:
        futures = [pool.submit(create_one, client, experiment_id, run) for run in runs]
    failed = next((f.exception() for f in futures if f.exception()), None)
    if failed is not None:
        for future in futures:
            if not future.exception():
                client.delete_run(future.result())
        raise failed
    return [f.result() for f in futures]
