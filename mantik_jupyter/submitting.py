"""Submitting: a request becomes a QUEUED run, or nothing at all.

Validate and record the run SUBMITTING (:meth:`Submitter.begin`, quick), then bundle, start
the MLflow run and hand the job to the site (:meth:`Submitter.complete`, long: the server
does it in the background), reporting progress as it goes. Nothing is left behind when a
step fails: no MLflow run, no staging folder, no job; the record is removed (a caller that
waits gets the error) or kept FAILED with the cause (a caller that did not wait).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from .backends import Backend, JobRequest
from .bundle import Plan as BundlePlan
from .bundle import plan, stage
from .context import EngineContext
from .errors import ConfigError, ConflictError, MantikError, out_of_space
from .locks import RunLock
from .params import Parameter, notebook_parameters, resolve_parameters
from .progress import Listener, Snapshot, SubmitCancelled, Tracker
from .request import SubmitRequest
from .schedule import Schedule
from .sites import Site
from .spec import RunSpec, plain_text
from .states import RunState
from .store import Run, now
from .tracking import git_tags

log = logging.getLogger(__name__)

DEFAULT_SITE = "local"


@dataclass
class Pending:
    """A submission recorded SUBMITTING whose bundling, upload and submit are still to do;
    its process holds the run's submit lock until :meth:`Submitter.complete` has ended."""

    run: Run
    notebook: Path
    spec: RunSpec
    declared: dict[str, Parameter]
    backend: Backend
    site: Site
    lock: RunLock
    planned: BundlePlan
    progress: Tracker
    #: the site holds the job until then (``Schedule.At``, a schedule's occurrence)
    begin: datetime | None = None
    #: the project lies in the contents root (False: a schedule's snapshot in the home)
    confined: bool = True


class Submitter:
    """Turns a :class:`SubmitRequest` into a run on its site."""

    def __init__(self, context: EngineContext):
        self.context = context
        self._pending: dict[str, Tracker] = {}  # runs this process is submitting
        self._guard = threading.Lock()

    def submit(self, request: SubmitRequest, listener: Listener | None = None, *,
               begin: datetime | None = None, run_id: str | None = None,
               confined: bool = True) -> Run:
        """Validate, bundle and submit; returns the QUEUED run, stored with its request in
        the resolved form a re-run replays (absolute notebook, site, typed parameters).
        A failure leaves nothing behind (no record, MLflow run or job) and raises.

        A ``Schedule.At`` (or ``begin``) has the site hold the job until then. A schedule's
        occurrence comes with its own ``run_id`` (its identity: never submitted twice) and
        from the schedule's snapshot of the project (``confined=False``: kept in the home
        folder, outside the contents root)."""
        pending = self.begin(request, listener, begin=begin, run_id=run_id, confined=confined)
        return self.complete(pending, keep_failed=False)

    def begin(self, request: SubmitRequest, listener: Listener | None = None, *,
              begin: datetime | None = None, run_id: str | None = None,
              confined: bool = True) -> Pending:
        """Validate everything that can be checked at once (site, spec, parameters, what
        the bundle would hold) and record the run SUBMITTING, its lock held (the
        arguments after ``listener`` as for :meth:`submit`)."""
        ctx = self.context
        spec = request.spec
        begin = requested_start(spec) or begin
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
        planned = plan(notebook_path, spec.config, within=ctx.contents_root if confined else None,
                       skip=(ctx.home,) if confined else ())
        run_id = run_id or uuid.uuid4().hex[:12]
        run_name = plain_text(request.name, "name") if request.name else (
            spec.name or f"{notebook_path.stem}-{run_id[:6]}")
        lock = self.claim(run_id)  # kept until SUBMITTING is left
        try:
            run = ctx.store.insert(Run(
                id=run_id, name=run_name, site=site.name, notebook=str(notebook_path),
                parameters=given, spec=spec.config, parent_id=request.parent_id,
                request=resolved.to_json(),
            ))
        except BaseException:
            lock.release()
            raise
        return Pending(run, notebook_path, spec, declared, backend, site, lock, planned,
                       self.track(run_id, listener), begin, confined)

    def track(self, run_id: str, listener: Listener | None) -> Tracker:
        """The progress of a submission this process works on (a run's or a sweep's),
        published as :meth:`publisher` does; :meth:`cancel` stops it until :meth:`finish`."""
        tracker = Tracker(self.publisher(run_id, listener),
                          asked=self.context.cancel_request(run_id).exists)
        with self._guard:
            self._pending[run_id] = tracker
        return tracker

    def claim(self, run_id: str) -> RunLock:
        """The run's submit lock, acquired; ConflictError if another process has it or the
        run exists already (a schedule's occurrence submitted elsewhere)."""
        ctx = self.context
        lock = ctx.submit_lock(run_id)
        if not lock.acquire() or ctx.store.exists(run_id):
            lock.release()
            raise ConflictError(f"run {run_id} has been submitted already", key="run")
        return lock

    def cancel(self, run_id: str) -> bool:
        """Stop a submission at its next progress report: this process's, or another live
        process's (asked through a file it looks for); False if no live process submits
        the run (its submission was interrupted: the reconciler settles it)."""
        with self._guard:
            tracker = self._pending.get(run_id)
        if tracker is not None:
            tracker.cancel()
            return True
        lock = self.context.submit_lock(run_id)
        if lock.acquire():  # nobody holds it
            lock.release()
            return False
        self.context.cancel_request(run_id).touch(mode=0o600)
        return True

    def complete(self, pending: Pending, keep_failed: bool = True) -> Run:
        """Bundle, start the MLflow run and hand the job to the site; returns the QUEUED
        run. On failure nothing is left on the site or in MLflow; the record becomes FAILED
        with the cause (``keep_failed``) or is removed and the error raised. A cancel asked
        for meanwhile makes it CANCELLED."""
        ctx, spec = self.context, pending.spec
        staging = ctx.staging(pending.run.id)
        staging.parent.mkdir(exist_ok=True, mode=0o700)
        progress = pending.progress

        def work() -> Run:
            run, planned = pending.run, pending.planned
            progress.phase("bundling", total_bytes=planned.size, total_files=len(planned.files))
            bundle = stage(pending.notebook, run_id=run.id, config=spec.config,
                           parameters=run.parameters, dest=staging,
                           skip=(ctx.home,) if pending.confined else (),
                           within=ctx.contents_root if pending.confined else None,
                           hashes=ctx.hashes)
            progress.advance(planned.size, len(planned.files))
            run = ctx.store.update(run.id, bundle_hash=bundle.bundle_hash,
                                   output_notebook=bundle.output_notebook)
            effective = {n: run.parameters.get(n, p.default)
                         for n, p in pending.declared.items()}
            mlflow_run_id, experiment_id = ctx.tracker.start(
                run_id=run.id, name=run.name, experiment=spec.experiment,
                parameters=effective, tags=self.tags(run, pending.notebook, spec),
            )
            run = ctx.store.update(run.id, mlflow_run_id=mlflow_run_id,
                                   mlflow_experiment_id=experiment_id)
            submission = pending.backend.submit(JobRequest(
                run_id=run.id, name=run.name, bundle=bundle, spec=spec,
                env=self.job_env(run, pending.site), secret_env=ctx.tracker.job_secrets(),
                progress=progress, begin=pending.begin,
            ))
            shutil.rmtree(staging, ignore_errors=True)
            return ctx.store.update(
                run.id, state=RunState.QUEUED.value, native_state="SUBMITTED",
                remote_job_id=submission.remote_job_id, work_dir=submission.work_dir,
                script=submission.script, bytes_uploaded=submission.bytes_uploaded,
                progress=None, reason=starts_at(pending.begin),
            )

        return self.finish(pending.run.id, pending.lock, work, lambda state, reason: (
            self.discard(pending.run, staging, state, reason)), keep_failed)

    def finish(self, run_id: str, lock: RunLock, work: Callable[[], Run],
               undo: Callable[[RunState | None, str], Run], keep_failed: bool) -> Run:
        """Do the long part of a submission (``work``, returning the QUEUED record) and
        settle it: a cancel is ``undo(CANCELLED, why)``; a failure ``undo(FAILED, cause)``
        (``keep_failed``) or ``undo(None, "")`` (record removed) and raised. The run's lock
        is released and its tracker dropped at the end, whatever happened."""
        try:
            try:
                return work()
            except SubmitCancelled:
                return undo(RunState.CANCELLED, "cancelled while it was being submitted")
            except Exception as exc:
                failure = out_of_space(exc, self.context.home) or exc
                if not keep_failed:
                    undo(None, "")
                    if failure is exc:
                        raise
                    raise failure from None
                cause = _cause(failure)
                log.warning("run %s: submission failed: %s", run_id, cause)
                return undo(RunState.FAILED, cause)
            except BaseException:
                undo(None, "")
                raise
        finally:
            with self._guard:
                self._pending.pop(run_id, None)
            self.context.cancel_request(run_id).unlink(missing_ok=True)
            lock.release()

    def publisher(self, run_id: str, listener: Listener | None
                  ) -> Callable[[Snapshot], None]:
        """Write each snapshot into the run's record while it is SUBMITTING (for every
        face), then tell ``listener``."""
        def publish(snapshot: Snapshot) -> None:
            self.context.store.update_if(run_id, RunState.SUBMITTING.value,
                                         progress=snapshot.to_dict())
            if listener is not None:
                listener(run_id, snapshot)
        return publish

    def tags(self, run: Run, notebook: Path, spec: RunSpec) -> dict[str, str]:
        """The MLflow tags of a run (site, bundle, notebook, resources, git commit)."""
        return {**self.run_tags(run, notebook, spec), **git_tags(notebook)}

    @staticmethod
    def run_tags(run: Run, notebook: Path, spec: RunSpec) -> dict[str, str]:
        """The MLflow tags of a run but its git commit's (site, bundle, notebook,
        resources)."""
        return {
            "mantik.site": run.site,
            "mantik.bundle_hash": run.bundle_hash or "",
            "mantik.notebook": str(notebook),
            "mlflow.source.name": str(notebook),
            "mantik.resources": json.dumps(spec.resources, sort_keys=True, default=str),
        }

    def job_env(self, run: Run, site: Site) -> dict[str, str]:
        """The variables a run's job gets (tracking, run and site names)."""
        return {
            "MLFLOW_TRACKING_URI": self.context.tracker.uri_for_humans,
            "MLFLOW_RUN_ID": run.mlflow_run_id or "",
            "MLFLOW_EXPERIMENT_ID": run.mlflow_experiment_id or "",
            "MANTIK_RUN_ID": run.id,
            "MANTIK_SITE": site.name,
        }

    def discard(self, run: Run, staging: Path, state: RunState | None = None,
                reason: str = "") -> Run:
        """Undo a submission that failed or was cancelled: MLflow run and staging folder;
        the record ends in ``state`` with ``reason``, or is removed when no state is
        given."""
        shutil.rmtree(staging, ignore_errors=True)
        store = self.context.store
        current = store.get(run.id)
        if current.mlflow_run_id:
            try:
                self.context.tracker.delete(current.mlflow_run_id)
            except Exception:  # noqa: BLE001 - best effort; the submit error matters more
                log.warning("could not delete MLflow run %s", current.mlflow_run_id)
        if state is None:
            store.delete(run.id)
            return current
        return store.update(run.id, state=state.value, reason=reason, ended_at=now(),
                            mlflow_run_id=None, mlflow_experiment_id=None, progress=None,
                            finalized=1)


def _cause(exc: Exception) -> str:
    """Why a submission failed, in one line for the run's reason (no traceback)."""
    if isinstance(exc, MantikError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def requested_start(spec: RunSpec) -> datetime | None:
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


def starts_at(begin: datetime | None) -> str | None:
    """Why a run held until ``begin`` waits (its QUEUED reason); None if it starts now."""
    return f"starts at {begin.isoformat()}" if begin else None


def check_deferred_start(backend: Backend, begin: datetime | None) -> None:
    """Refuse a later start on a site whose kind cannot hold a job until a time."""
    if begin is not None and not backend.capabilities.deferred_start:
        raise ConfigError(f"Schedule: site {backend.site.name!r} ({backend.title}) cannot hold "
                          "a job until a given time; choose a site that can, or start now",
                          key="Schedule")
