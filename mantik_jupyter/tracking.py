"""MLflow tracking: one MLflow run per submission, finished with the job's results.

The embedded default is a SQLite tracking store under ``$MANTIK_JUPYTER_HOME``; a
``MLFLOW_TRACKING_URI`` the user sets wins. MLflow is imported only here and only when a
method is called, never when the engine is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from .errors import BackendError, redact
from .states import RunState
from .tracking_bulk import NewRun, create_one, create_runs

DEFAULT_EXPERIMENT = "mantik-jupyter"
SECRET_VARIABLES = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                    "MLFLOW_TRACKING_PASSWORD")
#: The MLflow file store a job of an offline-tracking site writes into its run directory.
OFFLINE_STORE = "mantik-mlruns"
PARAM_LIMIT = 6000  # MLflow's maximum length of a param value
_MLFLOW_STATUS = {
    RunState.COMPLETED: "FINISHED",
    RunState.FAILED: "FAILED",
    RunState.TIMEOUT: "FAILED",
    RunState.CANCELLED: "KILLED",
}


def tracking_uri(home: Path) -> str:
    """The user's ``MLFLOW_TRACKING_URI`` or the embedded SQLite store in ``home``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"


def param_text(value: Any) -> str:
    """A parameter as MLflow shows it: scalars as text, lists and dicts as JSON."""
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= PARAM_LIMIT else text[: PARAM_LIMIT - 3] + "..."


def git_commit(folder: Path) -> str | None:
    """The commit of the git checkout holding ``folder``, if it is one."""
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def new_run(run_id: str, name: str, parameters: dict[str, Any],
            tags: dict[str, str]) -> NewRun:
    """The MLflow run of mantik run ``run_id``: params as text, their types as a tag."""
    types = json.dumps({k: type(v).__name__ for k, v in parameters.items()})
    return NewRun(name, {k: param_text(v) for k, v in sorted(parameters.items())},
                  {"mantik.run_id": run_id, "mantik.parameter_types": types, **tags})


def git_tags(notebook: Path) -> dict[str, str]:
    """The MLflow tags naming the git commit of the notebook's checkout (none outside one)."""
    commit = git_commit(notebook.parent)
    return {"mantik.git_commit": commit, "mlflow.source.git.commit": commit} if commit else {}


_IMPORTING = threading.Lock()


def _mlflow() -> Any:
    """MLflow, imported under a lock: two threads importing it at once (the server's submit
    and its poller's finalization) can meet it half initialised (an ImportError)."""
    with _IMPORTING:
        import mlflow.entities
        import mlflow.exceptions
        import mlflow.tracking
    return mlflow


class Tracker:
    """Creates, finishes and deletes the MLflow run of each submission."""

    def __init__(self, home: Path, uri: str | None = None):
        self.home = home
        self.uri = uri or tracking_uri(home)
        self._client = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _mlflow().tracking.MlflowClient(tracking_uri=self.uri)
        return self._client

    def _experiment_id(self, name: str) -> str:
        MlflowException = _mlflow().exceptions.MlflowException  # noqa: N806 - a class

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = (self.home / "mlartifacts").as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def start(
        self,
        *,
        run_id: str,
        name: str,
        experiment: str | None,
        parameters: dict[str, Any],
        tags: dict[str, str],
    ) -> tuple[str, str]:
        """Create the MLflow run with params and tags; returns (run id, experiment id)."""
        try:
            experiment_id = self._experiment_id(experiment or DEFAULT_EXPERIMENT)
            return create_one(self.client, experiment_id,
                              new_run(run_id, name, parameters, tags)), experiment_id
        except Exception as exc:  # MLflow raises many kinds; the user needs the message
            raise self.failure(exc) from None

    def start_many(self, experiment: str | None, runs: list[NewRun]) -> tuple[list[str], str]:
        """Create many MLflow runs (see :func:`new_run`) in one go, all or none; returns
        (their run ids in order, experiment id)."""
        try:
            experiment_id = self._experiment_id(experiment or DEFAULT_EXPERIMENT)
            return create_runs(self.client, experiment_id, runs), experiment_id
        except Exception as exc:  # as in start
            raise self.failure(exc) from None

    def failure(self, exc: Exception) -> BackendError:
        """An MLflow error as the user sees it: where, and what, without credentials."""
        return BackendError(f"MLflow tracking at {self.uri_for_humans} failed: "
                            f"{self.redact(str(exc))}")

    def finish(self, mlflow_run_id: str, state: RunState, artifacts: list[Path]) -> None:
        """Log the job's artifacts and set the MLflow run's final status."""
        for path in artifacts:
            if path.exists():
                self.client.log_artifact(mlflow_run_id, str(path), artifact_path="mantik")
        self.client.set_terminated(mlflow_run_id, _MLFLOW_STATUS.get(state, "FAILED"))

    def import_offline(self, mlflow_run_id: str, store: Path) -> int:
        """Copy params, metrics (with history), tags and artifacts of every run of a job's
        offline file store into the run; returns how many offline runs were imported."""
        mlflow = _mlflow()
        Param, RunTag = mlflow.entities.Param, mlflow.entities.RunTag  # noqa: N806 - classes
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # read-only, a copy here
        offline = mlflow.tracking.MlflowClient(tracking_uri=store.resolve().as_uri())
        known = self.client.get_run(mlflow_run_id).data.params
        imported = 0
        for experiment in offline.search_experiments():
            for run in offline.search_runs([experiment.experiment_id]):
                data = run.data
                self.client.log_batch(
                    mlflow_run_id,
                    metrics=[m for key in data.metrics
                             for m in offline.get_metric_history(run.info.run_id, key)],
                    params=[Param(k, v) for k, v in data.params.items() if k not in known],
                    tags=[RunTag(k, v) for k, v in data.tags.items()
                          if not k.startswith("mlflow.")],
                )
                artifacts = store / experiment.experiment_id / run.info.run_id / "artifacts"
                if artifacts.is_dir() and any(artifacts.iterdir()):
                    self.client.log_artifacts(mlflow_run_id, str(artifacts))
                imported += 1
        return imported

    def sweep_metrics(self, experiment_id: str, sweep_id: str) -> dict[str, dict[str, float]]:
        """The last value of every metric of a sweep's runs, by MLflow run id: one search
        for the whole sweep, not one call per point."""
        found: dict[str, dict[str, float]] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id], filter_string=f"tags.`mantik.sweep_id` = '{sweep_id}'",
                max_results=1000, page_token=token)
            for run in page:
                found[run.info.run_id] = dict(run.data.metrics)
            token = page.token
            if not token:
                return found

    def delete(self, mlflow_run_id: str) -> None:
        """Remove a run that never became a job (a failed submission)."""
        self.client.delete_run(mlflow_run_id)

    def job_secrets(self) -> dict[str, str]:
        """Credentials a job needs for the tracking server: the ``MLFLOW_TRACKING_TOKEN``,
        ``_USERNAME`` and ``_PASSWORD`` of this process and any user:password of the URI.

        They reach a job only apart from its description and script (see the backends).
        """
        from urllib.parse import unquote, urlsplit

        secrets = {name: os.environ[name] for name in SECRET_VARIABLES if os.environ.get(name)}
        parts = urlsplit(self.uri)
        if parts.username:
            secrets["MLFLOW_TRACKING_USERNAME"] = unquote(parts.username)
        if parts.password:
            secrets["MLFLOW_TRACKING_PASSWORD"] = unquote(parts.password)
        return secrets

    def redact(self, text: str) -> str:
        """``text`` without this tracker's credentials, in a URL or on their own."""
        for name, secret in self.job_secrets().items():
            if not name.endswith("_USERNAME"):  # a user name is no secret, and may be short
                text = text.replace(secret, "***")
        return redact(text)

    @property
    def uri_for_humans(self) -> str:
        """The tracking URI without any credentials in it."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.uri)
        if not (parts.password or parts.username):
            return self.uri  # unchanged: urlunsplit would drop a slash of sqlite:////abs
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
