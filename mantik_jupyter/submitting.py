"""Submitting: a request becomes a QUEUED run, or nothing at all.

Validate, bundle, record, start the MLflow run, hand the job to the site. Nothing is left
behind when a step fails: no record, no MLflow run, no staging folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from .backends import Backend, JobRequest
from .bundle import stage
from .context import EngineContext
from .errors import ConfigError, ConflictError
from .params import notebook_parameters, resolve_parameters
from .request import SubmitRequest
from .schedule import Schedule
from .sites import Site
from .spec import RunSpec, plain_text
from .states import RunState
from .store import Run
from .tracking import git_commit

log = logging.getLogger(__name__)

DEFAULT_SITE = "local"


class Submitter:
    """Turns a :class:`SubmitRequest` into a run on its site."""

    def __init__(self, context: EngineContext):
        self.context = context

    def submit(self, request: SubmitRequest, *, begin: datetime | None = None,
               run_id: str | None = None, confined: bool = True) -> Run:
        """Validate, bundle and submit; returns the QUEUED run, stored with its request in
        the resolved form a re-run replays (absolute notebook, site, typed parameters).

        A ``Schedule.At`` (or ``begin``) has the site hold the job until then. A schedule's
        occurrence comes with its own ``run_id`` (its identity: never submitted twice) and
        from the schedule's snapshot of the project (``confined=False``: kept in the home
        folder, outside the contents root)."""
        ctx = self.context
        spec = request.spec
        begin = self._begin(spec) or begin
        notebook_path = Path(request.notebook).expanduser().resolve()
        declared = notebook_parameters(notebook_path)
        site = ctx.catalog.get(request.site or spec.site or DEFAULT_SITE)
        backend = ctx.backend(site)
        backend.validate(spec)
        check_deferred_start(backend, begin)
        given = resolve_parameters(declared, {**spec.parameters, **request.parameters},
                                   dict(request.parameter_texts))
        spec = spec.with_overrides({"Parameters": given, "Site": site.name})
        resolved = replace(request, notebook=str(notebook_path), site=site.name,
                           config=spec.config, parameters=given, parameter_texts={})
        run_id = run_id or uuid.uuid4().hex[:12]
        run_name = plain_text(request.name, "name") if request.name else (
            spec.name or f"{notebook_path.stem}-{run_id[:6]}")
        staging = ctx.staging(run_id)
        staging.parent.mkdir(exist_ok=True, mode=0o700)
        with ctx.submit_lock(run_id):  # held until the record has left SUBMITTING
            if ctx.store.exists(run_id):  # an occurrence another process submitted
                raise ConflictError(f"run {run_id} has been submitted already", key="run")
            run: Run | None = None
            try:
                bundle = stage(notebook_path, run_id=run_id, config=spec.config, parameters=given,
                               dest=staging, skip=() if not confined else (ctx.home,),
                               within=ctx.contents_root if confined else None,
                               hashes=ctx.hashes)
                run = ctx.store.insert(Run(
                    id=run_id, name=run_name, site=site.name, notebook=str(notebook_path),
                    parameters=given, spec=spec.config, bundle_hash=bundle.bundle_hash,
                    parent_id=request.parent_id, request=resolved.to_json(),
                    output_notebook=bundle.output_notebook,
                ))
                effective = {n: given.get(n, p.default) for n, p in declared.items()}
                mlflow_run_id, experiment_id = ctx.tracker.start(
                    run_id=run_id, name=run_name, experiment=spec.experiment,
                    parameters=effective, tags=self._tags(run, notebook_path, spec),
                )
                run = ctx.store.update(run_id, mlflow_run_id=mlflow_run_id,
                                       mlflow_experiment_id=experiment_id)
                submission = backend.submit(JobRequest(
                    run_id=run_id, name=run_name, bundle=bundle, spec=spec,
                    env=self._job_env(run, site), secret_env=ctx.tracker.job_secrets(),
                    begin=begin,
                ))
            except BaseException:
                self._discard(run, staging)
                raise
            shutil.rmtree(staging, ignore_errors=True)
            return ctx.store.update(
                run_id, state=RunState.QUEUED.value, native_state="SUBMITTED",
                remote_job_id=submission.remote_job_id, work_dir=submission.work_dir,
                script=submission.script, bytes_uploaded=submission.bytes_uploaded,
                reason=f"starts at {begin.isoformat()}" if begin else None,
            )

    @staticmethod
    def _begin(spec: RunSpec) -> datetime | None:
        """``Schedule.At`` checked against the clock (a recurring schedule is no run)."""
        if not spec.schedule:
            return None
        when = Schedule.of(spec.schedule)
        if when.recurring:
            raise ConfigError("Schedule.Cron: a recurring schedule is added as a schedule "
                              "(mantik-jupyter schedules add, submit --cron, POST schedules), "
                              "not submitted as one run", key="Schedule.Cron")
        when.check(datetime.now(timezone.utc))
        return when.at

    def _tags(self, run: Run, notebook: Path, spec: RunSpec) -> dict[str, str]:
        tags = {
            "mantik.site": run.site,
            "mantik.bundle_hash": run.bundle_hash or "",
            "mantik.notebook": str(notebook),
            "mlflow.source.name": str(notebook),
            "mantik.resources": json.dumps(spec.resources, sort_keys=True, default=str),
        }
        commit = git_commit(notebook.parent)
        if commit:
            tags["mantik.git_commit"] = commit
            tags["mlflow.source.git.commit"] = commit
        return tags

    def _job_env(self, run: Run, site: Site) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.context.tracker.uri_for_humans,
            "MLFLOW_RUN_ID": run.mlflow_run_id or "",
            "MLFLOW_EXPERIMENT_ID": run.mlflow_experiment_id or "",
            "MANTIK_RUN_ID": run.id,
            "MANTIK_SITE": site.name,
        }

    def _discard(self, run: Run | None, staging: Path) -> None:
        """Undo a submission that failed: MLflow run, record and staging folder."""
        shutil.rmtree(staging, ignore_errors=True)
        if run is None:
            return
        store = self.context.store
        current = store.get(run.id)
        if current.mlflow_run_id:
            try:
                self.context.tracker.delete(current.mlflow_run_id)
            except Exception:  # noqa: BLE001 - best effort; the submit error matters more
                log.warning("could not delete MLflow run %s", current.mlflow_run_id)
        store.delete(run.id)


def check_deferred_start(backend: Backend, begin: datetime | None) -> None:
    """Refuse a later start on a site whose kind cannot hold a job until a time."""
    if begin is not None and not backend.capabilities.deferred_start:
        raise ConfigError(f"Schedule: site {backend.site.name!r} ({backend.title}) cannot hold "
                          "a job until a given time; choose a site that can, or start now",
                          key="Schedule")
