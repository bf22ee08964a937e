"""Reconciling: active runs converge with what their sites say about their jobs.

Each site is asked once for all its active runs. A run left SUBMITTING by a process that
died is settled by looking its job up on the site: adopted if found, FAILED if not; nothing
is ever submitted here.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from . import data
from .backends import GONE, SUBMITTED, JobStatus
from .backends.remote import job_name
from .context import EngineContext
from .errors import MantikError, NotFoundError
from .finalizing import Finalizer
from .states import RunState
from .store import Run, now
from .sweeping import aggregate, array_run_id, arrays_of

log = logging.getLogger(__name__)

#: Seconds a SUBMITTING run is left alone after its last change, whatever its lock says: a
#: process on another machine sharing this home, or a gateway still working on a request
#: whose sender died, is given this long before the run is reconciled with its site.
SUBMIT_GRACE = 60.0
#: Seconds after its submission during which a job its site does not list keeps its run's
#: state (QUEUED, no reason): a site may be asked before it lists a job it has just accepted
#: (Slurm answers ``squeue`` before a new job or array is registered; FirecREST and the
#: simulator read their lists from Slurm), and "not known to the site" would be a false
#: alarm on every fresh submission. After it, the site's word stands.
LISTING_GRACE = 60.0
INTERRUPTED = ("the submission was interrupted (the submitting process ended) before any "
               "job reached the site")
#: A sweep point whose array reached the site unrecorded (``ended``: what became of it).
ORPHANED = ("the submission was interrupted (the submitting process ended) after job array "
            "{array} reached the site, before its points were recorded; {ended}")


class Reconciler:
    """Writes what the sites report about active runs into the store."""

    def __init__(self, context: EngineContext, finalizer: Finalizer,
                 submit_grace: float = SUBMIT_GRACE):
        if submit_grace < 0:
            raise MantikError(f"submit_grace must be 0 or more seconds, got {submit_grace}",
                              key="submit_grace")
        self.context = context
        self.finalizer = finalizer
        self.submit_grace = submit_grace

    def converge(self, runs: list[Run]) -> list[Run]:
        """Ask each site, once per site, about these runs' jobs; returns the changed runs."""
        # a sweep's own record follows its points (aggregated below), it has no job; only
        # its submission, when interrupted, is settled here
        submitting = [r for r in runs if r.run_state == RunState.SUBMITTING]
        recovered = self._recover(submitting) if submitting else []
        active = [r for r in runs if not r.run_state.terminal and not r.is_sweep
                  and r.run_state != RunState.SUBMITTING] + [
            r for r in recovered if not r.run_state.terminal and not r.is_sweep]
        by_site: dict[str, list[Run]] = {}
        for run in active:
            by_site.setdefault(run.site, []).append(run)
        changed = {r.id: r for r in recovered}
        # every site is asked at once: a slow or hung one delays the others by nothing
        calls = {}
        for site_name, site_runs in by_site.items():
            try:
                calls[site_name] = self.context.backend(site_name).start_status(site_runs)
            except MantikError as exc:
                log.warning("could not refresh runs on site %s: %s", site_name, exc.message)
        for site_name, call in calls.items():
            site_runs = by_site[site_name]
            try:
                statuses = self.context.gateways.wait(call)
            except MantikError as exc:
                log.warning("could not refresh runs on site %s: %s", site_name, exc.message)
                continue
            for run in site_runs:
                status = statuses.get(run.id)
                if status is not None and not self._not_listed_yet(run, status):
                    updated = self._apply(run, status)
                    if updated is not None:
                        changed[run.id] = updated
                    staging = self._staging(updated or run)
                    if staging is not None:
                        changed[run.id] = staging
        for sweep_id in {r.sweep_id for r in changed.values() if r.sweep_id and not r.is_sweep}:
            sweep = aggregate(self.context, sweep_id)
            if sweep is not None:
                changed[sweep_id] = sweep
        return list(changed.values())

    def _recover(self, runs: list[Run]) -> list[Run]:
        """Settle SUBMITTING runs whose submitting process is gone; returns those changed.

        A run is touched only after the grace period and while nobody holds its lock (a live
        submitter does, in this process or another). A site that cannot answer leaves the
        run for the next sync.
        """
        horizon = ago(self.submit_grace)
        changed = []
        for run in runs:
            if run.updated_at > horizon:
                continue
            # a sweep's points are submitted under the sweep's lock
            lock = self.context.submit_lock(run.sweep_id or run.id)
            if not lock.acquire():
                continue
            try:
                settled = self._reconcile(run.id)
            except MantikError as exc:
                log.warning("run %s is still SUBMITTING: could not look for its job on site "
                            "%s: %s", run.id, run.site, exc.message)
                continue
            finally:
                lock.release()
            if settled is not None:
                changed.append(settled)
        return changed

    def _reconcile(self, run_id: str) -> Run | None:
        """Adopt the job an interrupted submission started, or fail the run (lock held)."""
        store = self.context.store
        try:
            run = store.get(run_id)  # read again under the lock: a submitter may have won
        except NotFoundError:  # its submission failed and was undone meanwhile
            return None
        if run.run_state != RunState.SUBMITTING:
            return None
        if run.point is not None and self._submitting(run.sweep_id):
            return None  # settled with its sweep, which knows the arrays its points went in
        self.context.cancel_request(run.id).unlink(missing_ok=True)  # nobody left to ask
        if run.is_sweep:
            return self._reconcile_sweep(run)
        # a sweep point's job is its array, which only the sweep's submitter knew
        found = None if run.point is not None else self.context.backend(run.site).find(run)
        shutil.rmtree(self.context.staging(run.id), ignore_errors=True)
        if found is None:
            log.warning("run %s: %s", run.id, INTERRUPTED)
            return store.update_if(run.id, RunState.SUBMITTING.value,
                                   state=RunState.FAILED.value, reason=INTERRUPTED,
                                   ended_at=now())
        log.warning("run %s: adopted job %s, which an interrupted submission left on site %s",
                    run.id, found.remote_job_id, run.site)
        return store.update_if(
            run.id, RunState.SUBMITTING.value, state=RunState.QUEUED.value,
            native_state=SUBMITTED, remote_job_id=found.remote_job_id,
            work_dir=found.work_dir, script=found.script)

    def _submitting(self, run_id: str | None) -> bool:
        """Whether that run is recorded and SUBMITTING."""
        try:
            return run_id is not None and self.context.store.get(run_id).run_state == (
                RunState.SUBMITTING)
        except NotFoundError:
            return False

    def _reconcile_sweep(self, sweep: Run) -> Run | None:
        """An interrupted sweep submission: its points that reached no recorded array fail
        (an array that reached the site unrecorded is ended there first), and the sweep
        follows the points that did (FAILED if none was recorded); lock held."""
        store = self.context.store
        points = store.points(sweep.id)
        orphaned = self._end_orphaned_arrays(sweep, points)  # before any record changes
        for point in points:
            if point.run_state == RunState.SUBMITTING:
                store.update_if(point.id, RunState.SUBMITTING.value,
                                state=RunState.FAILED.value,
                                reason=orphaned.get(point.id, INTERRUPTED), ended_at=now())
        shutil.rmtree(self.context.staging(sweep.id), ignore_errors=True)
        log.warning("sweep %s: %s", sweep.id, INTERRUPTED)
        store.update(sweep.id, progress=None)
        settled = aggregate(self.context, sweep.id) or store.update_if(
            sweep.id, RunState.SUBMITTING.value, state=RunState.FAILED.value,
            reason=INTERRUPTED, ended_at=now())
        notes = sorted(set(orphaned.values()))
        if settled is None or not notes:
            return settled
        return store.update(sweep.id, reason="; ".join(filter(None, [settled.reason, *notes])))

    def _end_orphaned_arrays(self, sweep: Run, points: list[Run]) -> dict[str, str]:
        """Cancel each job array the interrupted submission started but did not record,
        found by its name as a single run's job is after a lost reply (``find``): nothing
        runs that the user cannot see. Returns the reason of each of their points by id."""
        reasons: dict[str, str] = {}
        for number, (site, members) in enumerate(arrays_of(self.context, points)):
            if all(m.remote_job_id for m in members):
                continue  # recorded: its points follow their tasks as any run does
            backend = self.context.backend(site)
            array_id = array_run_id(sweep.id, number)
            found = backend.find(replace(sweep, id=array_id, site=site, sweep_id=None))
            if found is None:  # never reached the site (what it uploaded is removed)
                continue
            placed = backend.array_submission(found, [m.point or 0 for m in members])
            tasks = [replace(m, remote_job_id=task, work_dir=folder) for m, task, folder
                     in zip(members, placed.task_ids, placed.task_dirs, strict=True)]
            statuses = backend.status(tasks)
            if all(t.id in statuses and statuses[t.id].state.terminal for t in tasks):
                ended = "it had ended there"
            else:
                backend.cancel_points(tasks)
                ended = "it was cancelled there"
            log.warning("sweep %s: job array %s (job %s on site %s) was left unrecorded by an "
                        "interrupted submission; %s", sweep.id, array_id, found.remote_job_id,
                        site, ended)
            reasons.update(dict.fromkeys((m.id for m in members),
                                         ORPHANED.format(array=job_name(array_id), ended=ended)))
        return reasons

    @staticmethod
    def _not_listed_yet(run: Run, status: JobStatus) -> bool:
        """Whether the site does not list the run's job yet, submitted moments ago (no
        status seen since and within :data:`LISTING_GRACE`): its state stays as it is."""
        return (status.native_state == GONE and run.native_state == SUBMITTED
                and run.updated_at > ago(LISTING_GRACE))

    def _staging(self, run: Run) -> Run | None:
        """While an active run's ``Data`` is staged on its site, the stager's progress as
        the run's; once all is staged, the staged items (progress cleared) and no more
        reads. None if nothing changed."""
        if run.run_state.terminal or not run.spec.get("Data") or run.data:
            return None
        noted = data.read_report(self.context.fetch_result(run, data.PROGRESS))
        progress = data.staging_progress(noted)
        if progress is None:  # not started yet (or no job directory yet)
            return None
        changes: dict[str, Any] = {"progress": progress}
        if progress["files_done"] >= progress["files_total"]:
            report = data.read_report(self.context.fetch_result(run, data.REPORT))
            staged = data.staged_items(report) if report and not report.get("error") else []
            changes = {"progress": None, "data": staged} if staged else {"progress": None}
        if all(getattr(run, k) == v for k, v in changes.items()):
            return None
        return self.context.store.update_if(run.id, run.state, **changes)

    def _apply(self, run: Run, status: JobStatus) -> Run | None:
        """Write a newly observed job status to the store (one transaction)."""
        state = status.state
        if state == RunState.CANCELLED and run.spec.get("Data") and run.state != state.value:
            # a job waiting for its data staging job is cancelled by Slurm when staging fails
            staging = self.finalizer.staging_failure(run)
            if staging:
                state, status = RunState.FAILED, replace(status, state=RunState.FAILED,
                                                         reason=staging)
        changes: dict[str, Any] = {}
        if state.value != run.state:
            changes["state"] = state.value
        for field in ("native_state", "exit_code", "started_at", "ended_at"):
            value = getattr(status, field)
            if value is not None and value != getattr(run, field):
                changes[field] = value
        reason = status.reason
        if state == RunState.FAILED and run.state != state.value:
            reason = self.finalizer.failure_reason(run) or reason
        if reason is not None and reason != run.reason:
            changes["reason"] = reason
        elif reason is None and run.state == RunState.QUEUED.value and state.value != run.state:
            changes["reason"] = None  # why it waited (its begin time) ends with the wait
        if state.terminal and not (run.ended_at or status.ended_at):
            changes["ended_at"] = now()
        if state.terminal and run.progress is not None:  # its data staging, cut short
            changes["progress"] = None
        if not changes:
            return None
        # only over the state this status was read against: a reply that arrives after
        # another process ended the run (a cancel, a CLI sync) never overwrites that
        return self.context.store.update_if(run.id, run.state, **changes)


def ago(seconds: float) -> str:
    """The time ``seconds`` before now as the store writes times (compared as text)."""
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(
        timespec="microseconds")
