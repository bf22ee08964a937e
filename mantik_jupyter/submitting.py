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
from pathlib import Path

from .backends import JobRequest
from .bundle import stage
from .context import EngineContext
from .params import notebook_parameters, resolve_parameters
from .request import SubmitRequest
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

    def submit(self, request: SubmitRequest) -> Run:
        """Validate, bundle and submit; returns the QUEUED run, stored with its request in
        the resolved form a re-run replays (absolute notebook, site, typed parameters)."""
        ctx = self.context
        spec = request.spec
        notebook_path = Path(request.notebook).expanduser().resolve()
        declared = notebook_parameters(notebook_path)
        site = ctx.catalog.get(request.site or spec.site or DEFAULT_SITE)
        backend = ctx.backend(site)
        backend.validate(spec)
        given = resolve_parameters(declared, {**spec.parameters, **request.parameters},
                                   dict(request.parameter_texts))
        spec = spec.with_overrides({"Parameters": given, "Site": site.name})
        resolved = replace(request, notebook=str(notebook_path), site=site.name,
                           config=spec.config, parameters=given, parameter_texts={})
        run_id = uuid.uuid4().hex[:12]
        run_name = plain_text(request.name, "name") if request.name else (
            spec.name or f"{notebook_path.stem}-{run_id[:6]}")
        staging = ctx.staging(run_id)
        staging.parent.mkdir(exist_ok=True, mode=0o700)
        with ctx.submit_lock(run_id):  # held until the record has left SUBMITTING
            run: Run | None = None
            try:
                bundle = stage(notebook_path, run_id=run_id, config=spec.config, parameters=given,
                               dest=staging, skip=(ctx.home,), within=ctx.contents_root,
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
                    parameters=effective, tags=self.tags(run, notebook_path, spec),
                )
                run = ctx.store.update(run_id, mlflow_run_id=mlflow_run_id,
                                       mlflow_experiment_id=experiment_id)
                submission = backend.submit(JobRequest(
                    run_id=run_id, name=run_name, bundle=bundle, spec=spec,
                    env=self.job_env(run, site), secret_env=ctx.tracker.job_secrets(),
                ))
            except BaseException:
                self._discard(run, staging)
                raise
            shutil.rmtree(staging, ignore_errors=True)
            return ctx.store.update(
                run_id, state=RunState.QUEUED.value, native_state="SUBMITTED",
                remote_job_id=submission.remote_job_id, work_dir=submission.work_dir,
                script=submission.script, bytes_uploaded=submission.bytes_uploaded,
            )

    def tags(self, run: Run, notebook: Path, spec: RunSpec) -> dict[str, str]:
        """The MLflow tags of a run (site, bundle, notebook, resources, git commit)."""
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

    def job_env(self, run: Run, site: Site) -> dict[str, str]:
        """The variables a run's job gets (tracking, run and site names)."""
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
