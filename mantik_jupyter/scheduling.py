"""Scheduling: recurring runs whose next occurrence always waits on the site already.

A schedule is a submission request with a ``Schedule: {Cron: ...}`` section, stored with a
snapshot of the project taken when it was added. Whenever a face observes the schedules
(the server's poller, the CLI, the in-process magics, ``mantik-jupyter schedules tick``)
:meth:`Scheduler.tick` reconciles each one: the next occurrence is submitted at once as a
job the site holds until its time (``begin``), so it starts on time while no process of
ours is alive; at most one occurrence waits ahead; occurrences missed while nothing could
queue them follow ``Catchup`` (``latest``: one run now, never a burst; ``none``: skipped).

An occurrence's run id is derived from the schedule and the occurrence time, and the
history keeps one row per occurrence: an occurrence is never submitted twice, and a
submission whose process died is found again by that id (the reconciler adopts its job).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .bundle import stage
from .context import EngineContext
from .errors import ConfigError, ConflictError, MantikError
from .locks import RunLock
from .params import notebook_parameters, resolve_parameters
from .request import SubmitRequest, without_schedule
from .schedule import Schedule, cron_in_words, local_zone
from .spec import RunSpec, plain_text
from .states import RunState
from .store import ScheduleRecord, ScheduleStore
from .submitting import DEFAULT_SITE, Submitter, check_deferred_start
from .sweeping import SweepSubmitter
from .sweeps import SweepRequest

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def occurrence_run_id(schedule_id: str, occurrence: datetime) -> str:
    """The run id of one occurrence: the same whoever submits it, whenever."""
    key = f"{schedule_id}@{occurrence.astimezone(timezone.utc).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class Scheduler:
    """Adds, reconciles, pauses, resumes and removes recurring schedules."""

    def __init__(self, context: EngineContext, submitter: Submitter, sweeper: SweepSubmitter,
                 cancel: Callable[[str], Any], clock: Clock = utc_now):
        self.context = context
        self.store = ScheduleStore(context.store)
        self.submitter = submitter
        self.sweeper = sweeper  # a schedule whose request has a Sweep fires sweeps
        self.cancel = cancel
        self.clock = clock

    # ------------------------------------------------------------------ add
    def add(self, request: SubmitRequest) -> ScheduleRecord:
        """Validate a recurring request, snapshot its project, store it and queue its first
        occurrence; on any failure nothing is left (no record, no snapshot, no job)."""
        ctx = self.context
        spec = request.spec
        section = spec.schedule
        if "Cron" not in section:
            raise ConfigError("Schedule.Cron is required for a schedule (one later run is "
                              "Schedule.At, submitted as a run)", key="Schedule.Cron")
        section.setdefault("Timezone", local_zone())
        when = Schedule.of(section)
        when.check(self.clock())
        notebook = Path(request.notebook).expanduser().resolve()
        site = ctx.catalog.get(request.site or spec.site or DEFAULT_SITE)
        backend = ctx.backend(site)
        backend.validate(spec)
        sites = {site.name}
        sweep = SweepRequest.asked(request)
        if sweep is not None:  # every point checked now, as a sweep submitted now is
            sites = {p.site for p in self.sweeper.plan(sweep).points}
        for name in sorted(sites):
            check_deferred_start(ctx.backend(ctx.catalog.get(name)),
                                 when.next_after(self.clock()))
        given = resolve_parameters(notebook_parameters(notebook),
                                   {**spec.parameters, **request.parameters},
                                   dict(request.parameter_texts))
        schedule_id = uuid.uuid4().hex[:12]
        name = plain_text(request.name, "name") if request.name else (
            spec.name or f"{notebook.stem}-schedule")
        folder = self.folder(schedule_id)
        try:
            snapshot, bundle_hash = self._snapshot(notebook, spec, folder)
            config = spec.with_overrides({"Site": site.name, "Parameters": given,
                                          "ProjectRoot": str(folder / "project"),
                                          "Schedule": section}).config
            stored = replace(request, notebook=str(snapshot), site=site.name, config=config,
                             parameters=given, parameter_texts={})
            record = self.store.insert(ScheduleRecord(
                id=schedule_id, name=name, site=site.name, notebook=str(notebook),
                request=stored.to_json(), cron=when.cron, timezone=section["Timezone"],
                catchup=when.catchup, anchor=self.clock().isoformat(), bundle_hash=bundle_hash,
                until=when.until.isoformat() if when.until else None, count=when.count))
            record = self._reconcile(record, raise_errors=True)
        except BaseException:
            self._forget(schedule_id)
            raise
        return record

    def folder(self, schedule_id: str) -> Path:
        """Where a schedule's project snapshot is kept."""
        return self.context.home / "schedules" / schedule_id

    def _snapshot(self, notebook: Path, spec: RunSpec, folder: Path) -> tuple[Path, str]:
        """Copy the project as it is now (what the bundle would send); returns the copy's
        notebook and the bundle hash."""
        ctx = self.context
        staging = folder / "staging"
        folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.mkdir(mode=0o700)
        bundle = stage(notebook, run_id="snapshot", config=spec.config, parameters={},
                       dest=staging, skip=(ctx.home,), within=ctx.contents_root,
                       hashes=ctx.hashes)
        copy = folder / "project" / bundle.notebook
        bundle.copy_project(folder / "project")
        # the notebook itself was copied into the staging folder when it was staged
        copy.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / bundle.notebook, copy)
        shutil.rmtree(staging)
        return copy, bundle.bundle_hash

    def _forget(self, schedule_id: str) -> None:
        """Undo an add that failed: its record, history and snapshot."""
        self.store.delete(schedule_id)
        shutil.rmtree(self.folder(schedule_id), ignore_errors=True)

    # ------------------------------------------------------------------ reconcile
    def tick(self) -> list[ScheduleRecord]:
        """Reconcile every live schedule with the clock; returns those that changed."""
        changed = []
        for record in self.store.list():
            if record.paused:
                continue
            updated = self._reconcile(record)
            if updated != record:
                changed.append(updated)
        return changed

    def _reconcile(self, record: ScheduleRecord, raise_errors: bool = False) -> ScheduleRecord:
        """Queue what is due for one schedule, under its lock (another process ticking the
        same schedule skips it)."""
        lock = RunLock(self.context.home / "staging" / f"schedule-{record.id}.lock")
        if not lock.acquire():
            return record
        try:
            record = self.store.get(record.id)  # read again under the lock
            if record.paused or record.deleted:
                return record
            return self._queue_due(record)
        except MantikError as exc:
            if raise_errors:
                raise
            log.warning("schedule %s: %s", record.id, exc.message)
            return self.store.update(record.id, last_error=exc.message)
        finally:
            lock.release()

    def _queue_due(self, record: ScheduleRecord) -> ScheduleRecord:
        when = self.schedule(record)
        now = self.clock()
        history = self.store.occurrences(record.id)
        last = datetime.fromisoformat(history[0].occurrence) if history else None
        if last is not None and last > now:
            if not self._cancelled(history[0].run_id):  # it waits on the site already
                return self._note_next(record, last)
            upcoming = when.next_after(last)  # cancelled by a pause: the one after it
            if upcoming is not None and (when.count is None or when.count > len(history)):
                self._queue(record, upcoming, begin=upcoming)
            return self._note_next(record, upcoming)
        floor = max(last, datetime.fromisoformat(record.anchor)) if last else \
            datetime.fromisoformat(record.anchor)
        left = None if when.count is None else when.count - len(history)
        latest = when.latest_until(now)
        if (when.catchup == "latest" and latest > floor and (left is None or left > 0)
                and (when.until is None or latest <= when.until)):
            self._queue(record, latest, begin=None)  # missed: one run now, never a burst
            left = None if left is None else left - 1
        upcoming = when.next_after(now) if left is None or left > 0 else None
        if upcoming is not None:
            self._queue(record, upcoming, begin=upcoming)
        return self._note_next(record, upcoming)

    def _cancelled(self, run_id: str) -> bool:
        runs = self.context.store
        return runs.exists(run_id) and runs.get(run_id).state == RunState.CANCELLED.value

    def _note_next(self, record: ScheduleRecord, upcoming: datetime | None) -> ScheduleRecord:
        text = upcoming.astimezone(timezone.utc).isoformat() if upcoming else None
        if record.next_time == text and record.last_error is None:
            return record
        return self.store.update(record.id, next_time=text, last_error=None)

    def _queue(self, record: ScheduleRecord, occurrence: datetime,
               begin: datetime | None) -> None:
        """Submit one occurrence (or adopt the run a dead process submitted for it)."""
        run_id = occurrence_run_id(record.id, occurrence)
        key = occurrence.astimezone(timezone.utc).isoformat()
        if not self.context.store.exists(run_id):
            request = SubmitRequest.from_json(record.request, lambda path, _key: Path(path))
            config = without_schedule(request.spec.config)
            label = occurrence.astimezone(self.schedule(record).zone).strftime("%Y%m%d-%H%M")
            request = replace(request, config=config, name=f"{record.name}-{label}")
            sweep = SweepRequest.asked(request)
            # ConflictError: another process submitted it meanwhile; it is adopted below
            with contextlib.suppress(ConflictError):
                if sweep is not None:
                    self.sweeper.submit(sweep, begin=begin, run_id=run_id, confined=False)
                else:
                    self.submitter.submit(request, begin=begin, run_id=run_id,
                                          confined=False)
        self.store.add_occurrence(record.id, key, run_id)

    @staticmethod
    def schedule(record: ScheduleRecord) -> Schedule:
        section: dict[str, Any] = {"Cron": record.cron, "Timezone": record.timezone,
                                   "Catchup": record.catchup}
        if record.until:
            section["Until"] = record.until
        if record.count:
            section["Count"] = record.count
        return Schedule.of(section)

    # ------------------------------------------------------------------ actions
    def pause(self, schedule_id: str) -> ScheduleRecord:
        """Stop queuing; the occurrence waiting on the site is cancelled there."""
        record = self._live(schedule_id)
        record = self.store.update(record.id, paused=1, next_time=None)
        self._cancel_waiting(record)
        return record

    def resume(self, schedule_id: str) -> ScheduleRecord:
        """Queue again from now on (what passed while paused is not caught up)."""
        record = self._live(schedule_id)
        record = self.store.update(record.id, paused=0, anchor=self.clock().isoformat())
        return self._reconcile(record, raise_errors=True)

    def remove(self, schedule_id: str) -> ScheduleRecord:
        """Delete a schedule: its waiting occurrence is cancelled, its history kept."""
        record = self._live(schedule_id)
        record = self.store.update(record.id, deleted=1, paused=1, next_time=None)
        self._cancel_waiting(record)
        shutil.rmtree(self.folder(record.id) / "project", ignore_errors=True)
        return record

    def _live(self, schedule_id: str) -> ScheduleRecord:
        record = self.store.get(schedule_id)
        if record.deleted:
            raise ConflictError(f"schedule {record.id} has been deleted", key="schedule")
        return record

    def _cancel_waiting(self, record: ScheduleRecord) -> None:
        """Cancel the occurrences still queued on the site (a running one runs on)."""
        runs = self.context.store
        for occurrence in self.store.occurrences(record.id):
            if runs.exists(occurrence.run_id) and \
                    runs.get(occurrence.run_id).state == RunState.QUEUED.value:
                self.cancel(occurrence.run_id)

    def runs(self, schedule_id: str) -> list[tuple[str, str]]:
        """``(occurrence, run id)`` of every occurrence the schedule queued, latest first."""
        return [(o.occurrence, o.run_id) for o in self.store.occurrences(
            self.store.get(schedule_id).id)]

    def record_json(self, record: ScheduleRecord) -> dict[str, Any]:
        """A schedule as the faces show it: its fields, the request's config and parameters,
        and the latest run's id and state."""
        runs = self.context.store
        history = self.store.occurrences(record.id)
        last = next((o for o in history if runs.exists(o.run_id)), None)
        request = record.request
        return {**record.to_dict(), "cron_text": cron_in_words(record.cron),
                "config": request.get("config"),
                "parameters": request.get("parameters"), "runs": len(history),
                "last_run": None if last is None else {
                    "id": last.run_id, "occurrence": last.occurrence,
                    "state": runs.get(last.run_id).state}}
