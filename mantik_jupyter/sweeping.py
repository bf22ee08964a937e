"""Submitting a sweep: its points become runs, queued as one job array per group, or nothing.

The bundle is staged once; each site's upload cache then holds it once whatever the number
of arrays. The sweep is a run record of its own (``sweep_id`` = its id) with an MLflow
parent run; each point is a run (``sweep_id``, ``point``) with an MLflow child run
(``mlflow.parentRunId``) that the notebook's ``mlflow.start_run()`` logs into. A site that
takes no arrays gets the points as jobs of their own. When any step fails, every array
already queued is cancelled and no record or MLflow run is left.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from . import sweeps
from .backends import SUBMITTED, Backend, JobRequest, slurm_jobs
from .bundle import Bundle, stage
from .bundle import plan as bundle_plan
from .context import EngineContext
from .jobscript import Task, array_command
from .locks import RunLock
from .params import Parameter, notebook_parameters, resolve_parameters
from .progress import Listener, Progress, Tracker
from .request import SubmitRequest
from .spec import RunSpec, plain_text
from .states import RunState
from .store import Run, now
from .submitting import DEFAULT_SITE, Submitter, check_deferred_start, requested_start, starts_at
from .sweeps import ArrayGroup, PlannedPoint, SweepPlan, SweepRequest, plan
from .tracking import OFFLINE_STORE, git_tags, new_run

log = logging.getLogger(__name__)


@dataclass
class SweepPending:
    """A sweep recorded SUBMITTING whose staging, points and arrays are still to do; its
    process holds the sweep's submit lock until :meth:`SweepSubmitter.complete` ended."""

    run: Run
    plan: SweepPlan
    notebook: Path
    declared: dict[str, Parameter]
    lock: RunLock
    progress: Tracker
    begin: datetime | None = None
    confined: bool = True


class SweepSubmitter:
    """Turns a :class:`SweepRequest` into a sweep record and its point runs, queued."""

    def __init__(self, context: EngineContext, submitter: Submitter):
        self.context = context
        self.submitter = submitter

    def plan(self, request: SweepRequest) -> SweepPlan:
        """Check every point (parameters, site, resources); nothing is staged or sent."""
        ctx = self.context
        notebook = Path(request.base.notebook).expanduser().resolve()
        declared = notebook_parameters(notebook)

        def site_info(name: str) -> tuple[str, int, Any]:
            site = ctx.catalog.get(name)
            backend = ctx.backend(site)
            return site.name, backend.max_array_size(), backend.validate

        return plan(request, declared, site_info, DEFAULT_SITE)

    def submit(self, request: SweepRequest, *, begin: datetime | None = None,
               run_id: str | None = None, confined: bool = True,
               listener: Listener | None = None) -> Run:
        """Plan, stage once, record, track and queue; returns the QUEUED sweep. A failure
        leaves nothing (no record, MLflow run or array) and raises. While it is SUBMITTING
        its progress (points recorded, then each array's upload and submit) is in its
        record and told to ``listener``, as a single run's.

        The sites hold every point until ``Schedule.At`` (or ``begin``). A schedule's
        occurrence has a fixed ``run_id`` (ConflictError if it was submitted already) and
        its project is a snapshot in the home (``confined`` False), as for single runs."""
        pending = self.begin(request, listener, begin=begin, run_id=run_id, confined=confined)
        return self.complete(pending, keep_failed=False)

    def begin(self, request: SweepRequest, listener: Listener | None = None, *,
              begin: datetime | None = None, run_id: str | None = None,
              confined: bool = True) -> SweepPending:
        """Check every point, the start time and what the bundle would hold, and record
        the sweep SUBMITTING, its lock held (arguments as for :meth:`submit`); quick."""
        ctx = self.context
        sweep_plan = self.plan(request)
        begin = requested_start(request.base.spec) or begin
        base = request.base
        notebook = Path(base.notebook).expanduser().resolve()
        base_spec = base.spec
        declared = notebook_parameters(notebook)
        given = resolve_parameters(declared, {**base_spec.parameters, **base.parameters},
                                   dict(base.parameter_texts))
        sweep_id = run_id or uuid.uuid4().hex[:12]
        name = plain_text(base.name, "name") if base.name else (
            base_spec.name or f"{notebook.stem}-sweep-{sweep_id[:6]}")
        sites = sorted({p.site for p in sweep_plan.points})
        for site_name in sites:
            check_deferred_start(ctx.backend(ctx.catalog.get(site_name)), begin)
        bundle_plan(notebook, base_spec.config, within=ctx.contents_root if confined else None,
                    skip=(ctx.home,) if confined else ())
        lock = self.submitter.claim(sweep_id)  # kept until SUBMITTING is left
        try:
            sweep = ctx.store.insert(Run(
                id=sweep_id, name=name, site="+".join(sites), notebook=str(notebook),
                parameters=given, spec={**base_spec.config, "Sweep": request.sweep.to_config()},
                parent_id=request.rerun_of, request=request.to_json(), sweep_id=sweep_id,
                native_state=f"{len(sweep_plan.points)} points"))
        except BaseException:
            lock.release()
            raise
        return SweepPending(sweep, sweep_plan, notebook, declared, lock,
                            self.submitter.track(sweep_id, listener), begin, confined)

    def complete(self, pending: SweepPending, keep_failed: bool = True) -> Run:
        """Stage the bundle once, start the MLflow parent and a child per point, record the
        points and queue their arrays; returns the QUEUED sweep. On failure every array
        already queued is cancelled and no point or MLflow run is left; the sweep becomes
        FAILED with the cause (``keep_failed``) or is removed and the error raised. A
        cancel asked for meanwhile makes it CANCELLED."""
        ctx, sweep, sweep_plan = self.context, pending.run, pending.plan
        base_spec = sweep_plan.request.base.spec
        staging = ctx.staging(sweep.id)
        staging.parent.mkdir(exist_ok=True, mode=0o700)
        records: list[Run] = []  # the points stored so far: undone on failure
        tracked: list[str] = []  # their MLflow runs: deleted on failure
        queued: list[tuple[Backend, list[Run]]] = []
        progress = pending.progress

        def work() -> Run:
            bundle = stage(pending.notebook, run_id=sweep.id, config=base_spec.config,
                           parameters=sweep.parameters, dest=staging,
                           skip=(ctx.home,) if pending.confined else (),
                           within=ctx.contents_root if pending.confined else None,
                           hashes=ctx.hashes)
            recorded = ctx.store.update(sweep.id, bundle_hash=bundle.bundle_hash)
            parent_mlflow = self._track_sweep(recorded, sweep_plan, base_spec)
            progress.phase("recording points", total_files=len(sweep_plan.points))
            points = self._point_records(recorded, sweep_plan.points, bundle, parent_mlflow,
                                         pending.declared, records, tracked)
            progress.advance(0, len(points))
            for number, group in enumerate(sweep_plan.arrays):
                members = [points[p.index] for p in group.points]
                backend = ctx.backend(group.site)
                queued.append((backend, members))
                self._queue(backend, recorded, number, group, members, bundle, pending.begin,
                            progress)
            shutil.rmtree(staging, ignore_errors=True)
            return ctx.store.update(sweep.id, state=RunState.QUEUED.value,
                                    reason=starts_at(pending.begin),
                                    native_state=counts_text(ctx.store.points(sweep.id)),
                                    progress=None)

        def undo(state: RunState | None, reason: str) -> Run:
            self._discard(records, tracked, queued)
            return self.submitter.discard(sweep, staging, state, reason)

        return self.submitter.finish(sweep.id, pending.lock, work, undo, keep_failed)

    def _track_sweep(self, sweep: Run, sweep_plan: SweepPlan, spec: RunSpec) -> str:
        """The MLflow parent run: the grid and the objective as params."""
        sweep_spec = sweep_plan.request.sweep
        grid = {**sweep_spec.grid, **sweep_plan.request.text_grid}
        params = {"sweep.grid": json.dumps(grid, sort_keys=True, default=str),
                  "sweep.points": len(sweep_plan.points), "sweep.repeat": sweep_spec.repeat}
        if sweep_spec.objective:
            params["sweep.objective"] = (f"{sweep_spec.objective.goal} "
                                         f"{sweep_spec.objective.metric}")
        tags = {"mantik.sweep_id": sweep.id, "mantik.site": sweep.site,
                "mantik.notebook": sweep.notebook, "mlflow.source.name": sweep.notebook,
                "mantik.kind": "sweep"}
        mlflow_id, experiment = self.context.tracker.start(
            run_id=sweep.id, name=sweep.name, experiment=spec.experiment, parameters=params,
            tags=tags)
        self.context.store.update(sweep.id, mlflow_run_id=mlflow_id,
                                  mlflow_experiment_id=experiment)
        return mlflow_id

    def _point_records(self, sweep: Run, points: list[PlannedPoint], bundle: Bundle,
                       parent_mlflow: str, declared: dict, records: list[Run],
                       tracked: list[str]) -> list[Run]:
        """The points' runs, each with its MLflow child run under the sweep's, created in
        bulk (one transaction per experiment, one for the records); what was created is
        added to ``tracked`` and ``records`` at once, for an undo."""
        ctx = self.context
        notebook = Path(sweep.notebook)
        shared_tags = {**git_tags(notebook), "mlflow.parentRunId": parent_mlflow,
                       "mantik.sweep_id": sweep.id}
        runs = [Run(id=uuid.uuid4().hex[:12], name=f"{sweep.name}/{point.index}",
                    site=point.site, notebook=sweep.notebook, parameters=point.parameters,
                    spec=point.spec.config, bundle_hash=bundle.bundle_hash,
                    request=SubmitRequest(notebook=sweep.notebook, site=point.site,
                                          config=point.spec.config,
                                          parameters=point.parameters).to_json(),
                    output_notebook=bundle.output_notebook, sweep_id=sweep.id,
                    point=point.index)
                for point in points]
        by_experiment: dict[str | None, list[int]] = {}
        for k, point in enumerate(points):
            by_experiment.setdefault(point.spec.experiment, []).append(k)
        for experiment, members in by_experiment.items():
            new = [new_run(runs[k].id, runs[k].name,
                           {n: points[k].parameters.get(n, p.default)
                            for n, p in declared.items()},
                           {**self.submitter.run_tags(runs[k], notebook, points[k].spec),
                            **shared_tags, "mantik.point": str(points[k].index),
                            "mantik.repeat": str(points[k].repeat)})
                   for k in members]
            mlflow_ids, experiment_id = ctx.tracker.start_many(experiment, new)
            tracked.extend(mlflow_ids)
            for k, mlflow_id in zip(members, mlflow_ids, strict=True):
                runs[k] = replace(runs[k], mlflow_run_id=mlflow_id,
                                  mlflow_experiment_id=experiment_id)
        records.extend(ctx.store.insert_many(runs))
        return runs

    def _queue(self, backend: Backend, sweep: Run, number: int, group: ArrayGroup,
               members: list[Run], bundle: Bundle, begin: datetime | None,
               progress: Progress) -> None:
        """One job array for the group, or one job per point where the site takes none;
        the site holds them until ``begin``; uploads report to ``progress``."""
        ctx = self.context
        site = ctx.catalog.get(group.site)
        # offline, a point's notebook starts its own run in its file store (imported later)
        offline = bool(site.settings.get("offline_tracking"))
        tasks = [Task(run.point or 0, run.parameters, {"MANTIK_RUN_ID": run.id, **(
            {} if offline else {"MLFLOW_RUN_ID": run.mlflow_run_id or ""})})
            for run in members]
        shared = {**self.submitter.job_env(sweep, site), "MANTIK_SWEEP_ID": sweep.id}
        shared.pop("MLFLOW_RUN_ID", None)
        shared.pop("MANTIK_RUN_ID", None)
        command = array_command(bundle.notebook, bundle.output_notebook, tasks,
                                OFFLINE_STORE if offline else None)
        job = JobRequest(run_id=array_run_id(sweep.id, number), name=f"{sweep.name}-{number}",
                         bundle=bundle, spec=group.spec, env=shared,
                         secret_env=ctx.tracker.job_secrets(), command=command, begin=begin,
                         progress=progress)
        if backend.capabilities.job_arrays:
            limit = sweep_max_concurrent(sweep)
            started = backend.submit_array(
                replace(job, array=slurm_jobs.array_spec(len(tasks), limit)),
                [t.point for t in tasks])
            placed = list(zip(started.task_ids, started.task_dirs, strict=True))
            submissions = [started.submission] * len(members)
        else:  # separate jobs, each picking its point by MANTIK_TASK; the bundle is shared
            submissions = [backend.submit(replace(
                job, run_id=run.id, env={**shared, "MANTIK_TASK": str(k)}))
                for k, run in enumerate(members)]
            placed = [(s.remote_job_id, backend.point_dir(s.work_dir, run.point or 0))
                      for s, run in zip(submissions, members, strict=True)]
        ctx.store.update_many({
            run.id: {"state": RunState.QUEUED.value, "native_state": SUBMITTED,
                     "reason": starts_at(begin), "remote_job_id": task_id,
                     "work_dir": folder, "script": submission.script,
                     "bytes_uploaded": submission.bytes_uploaded}
            for run, (task_id, folder), submission in zip(members, placed, submissions,
                                                          strict=True)})

    def _discard(self, points: list[Run], tracked: list[str],
                 queued: list[tuple[Backend, list[Run]]]) -> None:
        """Undo the points of a sweep that failed part-way: queued arrays, MLflow runs,
        records (the sweep's own record is the submitter's to settle)."""
        store = self.context.store
        for backend, members in queued:
            started = [store.get(r.id) for r in members]
            started = [r for r in started if r.remote_job_id]
            if started:
                try:
                    backend.cancel_points(started)
                except Exception:  # noqa: BLE001 - best effort; the submit error matters more
                    log.warning("could not cancel the arrays of a failed sweep on %s",
                                backend.site.name)
        for mlflow_id in reversed(tracked):
            try:
                self.context.tracker.delete(mlflow_id)
            except Exception:  # noqa: BLE001 - best effort, as above
                log.warning("could not delete MLflow run %s", mlflow_id)
        for run in reversed(points):
            store.delete(run.id)


def array_run_id(sweep_id: str, number: int) -> str:
    """The id a sweep's array ``number`` goes to its site under: its job is named after it
    and found by it when an interrupted submission left the array unrecorded."""
    return f"{sweep_id}-{number}"


def arrays_of(context: EngineContext, points: list[Run]) -> list[tuple[str, list[Run]]]:
    """The arrays a sweep's points were queued in, in their order: each one's site and
    points, grouped from the point records as :func:`~.sweeps.group` grouped the plan."""
    planned = [PlannedPoint(p.point or 0, {}, 0, p.site, p.parameters, RunSpec(p.spec))
               for p in points]
    limits = {site: context.backend(site).max_array_size() for site in {p.site for p in points}}
    by_point = {p.point or 0: p for p in points}
    return [(array.site, [by_point[q.index] for q in array.points])
            for array in sweeps.group(planned, limits)]


def sweep_max_concurrent(sweep: Run) -> int | None:
    """The sweep's ``MaxConcurrent`` (None: no limit)."""
    return (sweep.spec.get("Sweep") or {}).get("MaxConcurrent")


def counts_text(points: list[Run]) -> str:
    """Points per state in words: ``12 points: 3 COMPLETED, 9 QUEUED``."""
    counts = Counter(p.state for p in points)
    return f"{len(points)} points: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def aggregate(context: EngineContext, sweep_id: str) -> Run | None:
    """Write the sweep's state from its points' (and their counts); None if unchanged."""
    store = context.store
    sweep = store.get(sweep_id)
    points = store.points(sweep_id)
    if not points:
        return None
    states = Counter(p.state for p in points)
    active = [s for s in states if not RunState(s).terminal]
    reason = None
    if active:
        state = RunState.RUNNING if states[RunState.RUNNING.value] or len(active) < len(
            states) else RunState.QUEUED
        reasons = {p.reason for p in points}
        if state is RunState.QUEUED and len(reasons) == 1:
            reason = reasons.pop()  # all wait for the same thing, e.g. "starts at ..."
    elif states[RunState.COMPLETED.value] == len(points):
        state = RunState.COMPLETED
    elif states[RunState.CANCELLED.value] and not states[RunState.FAILED.value]:
        state = RunState.CANCELLED
    else:
        state = RunState.FAILED
        failed = len(points) - states[RunState.COMPLETED.value]
        reason = f"{failed} of {len(points)} points did not complete"
    changes: dict[str, Any] = {"state": state.value, "native_state": counts_text(points),
                               "reason": reason}
    started = [p.started_at for p in points if p.started_at]
    if started and not sweep.started_at:
        changes["started_at"] = min(started)
    if state.terminal and not sweep.ended_at:
        changes["ended_at"] = max((p.ended_at for p in points if p.ended_at), default=now())
    if all(getattr(sweep, k) == v for k, v in changes.items()):
        return None
    return store.update(sweep_id, **changes)
