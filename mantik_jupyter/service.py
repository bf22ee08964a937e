"""RunService: the one engine behind the CLI, the REST API and the magics.

A thin facade over its parts: submitting (:mod:`.submitting`), reconciling active runs
with their sites (:mod:`.reconciling`) and finalizing ended ones (:mod:`.finalizing`), plus
pure reads that render runs as JSON with the links of the service's :class:`LinkPolicy`.
Reads never ask a site or write anything; :meth:`RunService.sync` is the explicit step
that converges the store with the sites, called by the server's poller, the CLI and the
magics.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .backends import CANCEL_WAIT, FileEntry
from .backoff import Backoff
from .context import EngineContext
from .downloads import Budget, move_into
from .errors import ConflictError, MantikError
from .executed import keep_beside
from .finalizing import RETRIES, Finalizer
from .gateways import GatewayPool, GuardedBackend
from .links import LinkPolicy
from .params import Parameter, notebook_parameters
from .progress import NO_PROGRESS, Listener, Progress
from .reconciling import SUBMIT_GRACE, Reconciler
from .request import RerunChanges, SubmitRequest
from .results import rerun_sweep, sweep_results
from .runfilter import RunFilter
from .scheduling import Scheduler
from .sites import Site, SiteCatalog
from .spec import plain_text
from .states import RunState
from .store import ALL, Run, RunStore, now
from .submitting import Pending, Submitter
from .sweeping import SweepPending, SweepSubmitter
from .sweeps import SweepPlan, SweepRequest
from .tracking import Tracker

#: Most log bytes a follow reads at a time (a large log is never read whole).
FOLLOW_CHUNK = 1 << 20


@dataclass(frozen=True)
class LogChunk:
    """A slice of a run's log: exactly the bytes from ``offset`` to ``next_offset``."""

    data: bytes
    offset: int
    next_offset: int
    eof: bool
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data.decode("utf-8", errors="replace"), "offset": self.offset,
                "next_offset": self.next_offset, "eof": self.eof, "state": self.state}


class RunService:
    """Submits notebooks to sites, reads their runs, and keeps them in step with the sites."""

    def __init__(
        self,
        home: Path | None = None,
        catalog: SiteCatalog | None = None,
        tracker: Tracker | None = None,
        submit_grace: float = SUBMIT_GRACE,
        links: LinkPolicy | None = None,
        contents_root: Path | None = None,
        gateways: GatewayPool | None = None,
        finalize_retries: Backoff = RETRIES,
    ):
        home = Path(home) if home else paths.home()
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        tracker = tracker or Tracker(home)
        self._context = EngineContext(home, RunStore(home / "runs.db"),
                                      catalog or SiteCatalog(home), tracker, contents_root,
                                      gateways)
        self._finalizer = Finalizer(self._context, finalize_retries)
        self._reconciler = Reconciler(self._context, self._finalizer, submit_grace)
        self._submitter = Submitter(self._context)
        self._sweeper = SweepSubmitter(self._context, self._submitter)
        self._scheduler = Scheduler(self._context, self._submitter, self._sweeper, self.cancel)
        self.links = links or LinkPolicy.of(None, "", tracker.uri_for_humans)

    @property
    def home(self) -> Path:
        return self._context.home

    @property
    def catalog(self) -> SiteCatalog:
        return self._context.catalog

    @property
    def tracker(self) -> Tracker:
        return self._context.tracker

    def close(self) -> None:
        """Close the run store's connection."""
        self._context.store.close()

    # ------------------------------------------------------------------ sites
    def backend(self, site: Site | str) -> GuardedBackend:
        """The backend instance serving a site (kept until its profile changes)."""
        return self._context.backend(site)

    def check_site(self, name: str) -> dict[str, Any]:
        """Test a site's connection and credentials: ``{ok, message, time}``, never raising
        for what the site says (an unknown site is still an error)."""
        backend = self.backend(name)
        try:
            return {"ok": True, "message": backend.check(), "time": now()}
        except MantikError as exc:
            return {"ok": False, "message": exc.message, "time": now()}

    def parameters(self, notebook: str | Path) -> dict[str, Parameter]:
        """The notebook's parameters with types, defaults and help."""
        return notebook_parameters(Path(notebook))

    # ------------------------------------------------------------------ submit
    def submit(self, request: SubmitRequest | SweepRequest,
               progress: Listener | None = None) -> Run:
        """Validate, bundle and submit a notebook; returns the QUEUED run. A sweep (a
        :class:`SweepRequest`, or a config with a ``Sweep`` key) is submitted as one job
        array per group of points and its own record returned. ``progress`` is told (run
        id, snapshot) of bundling and upload, a few times per second."""
        sweep = _sweep_of(request)
        if sweep is not None:
            return self._sweeper.submit(sweep, listener=progress)
        return self._submitter.submit(request, progress)

    def plan_sweep(self, request: SweepRequest) -> SweepPlan:
        """The points and arrays a sweep would form, every point checked; nothing sent."""
        return self._sweeper.plan(request)

    def rerun(self, run_id: str, changes: RerunChanges | None = None,
              progress: Listener | None = None) -> Run:
        """Submit the request a run was made with again, with ``changes``, as a new run
        whose parent is that run (a sweep: as a new sweep; ``failed``: its failed points)."""
        return self.submit(self.rerun_request(run_id, changes), progress)

    def rerun_request(self, run_id: str, changes: RerunChanges | None = None
                      ) -> SubmitRequest | SweepRequest:
        """What a re-run of a run submits: its own request with ``changes`` (a sweep's
        again, or only its failed points with ``failed``), the run read once."""
        original = self._context.store.get(run_id)
        changes = changes or RerunChanges()
        if original.is_sweep:
            return rerun_sweep(original, self._context.store.points(original.id), changes)
        if changes.failed:
            raise ConflictError(f"run {original.id} is not a sweep; --failed re-runs the "
                                "failed points of a sweep", key="failed")
        request = SubmitRequest.from_json(original.request, lambda path, _key: Path(path))
        return request.rerun(original.id, changes)

    def begin_submit(self, request: SubmitRequest | SweepRequest,
                     progress: Listener | None = None) -> Pending | SweepPending:
        """Validate and record the run (or sweep) SUBMITTING, at once; ``complete_submit``
        (in the background) then bundles, uploads and submits it."""
        sweep = _sweep_of(request)
        if sweep is not None:
            return self._sweeper.begin(sweep, progress)
        return self._submitter.begin(request, progress)

    def complete_submit(self, pending: Pending | SweepPending) -> Run:
        """Finish a submission ``begin_submit`` recorded: QUEUED, or FAILED with the cause
        (nothing left on the site), or CANCELLED if a cancel came first."""
        if isinstance(pending, SweepPending):
            return self._sweeper.complete(pending)
        return self._submitter.complete(pending)

    # ------------------------------------------------------------------ schedules
    def add_schedule(self, request: SubmitRequest) -> dict[str, Any]:
        """Add a recurring schedule (``Schedule: {Cron: ...}``) and queue its first run."""
        return self._scheduler.record_json(self._scheduler.add(request))

    def schedules(self, deleted: bool = False) -> list[dict[str, Any]]:
        """Every schedule (deleted ones only when asked), newest first."""
        return [self._scheduler.record_json(r)
                for r in self._scheduler.store.list(deleted=deleted)]

    def schedule(self, schedule_id: str) -> dict[str, Any]:
        """One schedule by id or unique prefix."""
        return self._scheduler.record_json(self._scheduler.store.get(schedule_id))

    def pause_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Pause: nothing more is queued and the waiting run is cancelled on the site."""
        return self._scheduler.record_json(self._scheduler.pause(schedule_id))

    def resume_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Resume: the next occurrence is queued."""
        return self._scheduler.record_json(self._scheduler.resume(schedule_id))

    def remove_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Delete: the waiting run is cancelled; the schedule's history stays."""
        return self._scheduler.record_json(self._scheduler.remove(schedule_id))

    def schedule_runs_json(self, schedule_id: str) -> str:
        """The runs a schedule queued, latest occurrence first, as the API's JSON text
        ``{runs: [{occurrence, run}]}`` (``run`` null once the run was deleted)."""
        store, members = self._context.store, self.links.members()
        items = [f'{{"occurrence":{json.dumps(occurrence)},"run":'
                 f'{store.get_json(run_id, members) if store.exists(run_id) else "null"}}}'
                 for occurrence, run_id in self._scheduler.runs(schedule_id)]
        return f'{{"runs":[{",".join(items)}]}}'

    def has_schedules(self) -> bool:
        """True while any schedule may queue runs (not paused, not deleted)."""
        return any(not r.paused for r in self._scheduler.store.list())

    def tick_schedules(self) -> list[dict[str, Any]]:
        """Reconcile every schedule with the clock (queue what is due); returns those
        that changed."""
        return [self._scheduler.record_json(r) for r in self._scheduler.tick()]

    # ------------------------------------------------------------------ reads (pure)
    def get(self, run_id: str) -> Run:
        """One run by id (or unique prefix), as the store has it."""
        return self._context.store.get(run_id)

    def list(self, run_filter: RunFilter = ALL) -> list[Run]:
        """The runs of a filter's page, newest first unless it asks otherwise."""
        return self._context.store.list(run_filter)

    def active(self) -> list[Run]:
        """Runs whose job may still change."""
        return self._context.store.active()

    def points(self, sweep_id: str) -> list[Run]:
        """The point runs of a sweep, by index."""
        return self._context.store.points(self.get(sweep_id).id)

    def results(self, run_id: str, sort: str | None = None) -> dict[str, Any]:
        """A sweep's points with parameters, state, duration and the last value of each
        metric (one MLflow search), sorted by the objective (or ``sort``), best marked."""
        sweep = self.get(run_id)
        if not sweep.is_sweep:
            raise ConflictError(f"run {sweep.id} is not a sweep; results compare a sweep's "
                                "points", key="run")
        return sweep_results(sweep, self.points(sweep.id), self.tracker, sort)

    def run_json(self, run_id: str) -> str:
        """One run (by id or unique prefix) as the API's JSON text, links included."""
        store = self._context.store
        return store.get_json(store.get(run_id).id, self.links.members())

    def run_record(self, run_id: str) -> dict[str, Any]:
        """One run as the API's JSON, decoded."""
        return json.loads(self.run_json(run_id))

    def page_json(self, run_filter: RunFilter) -> str:
        """A page of runs as the API's JSON text ``{runs, total, next_cursor}``."""
        return self._context.store.page_json(run_filter, self.links.members())

    # ------------------------------------------------------------------ sync
    def sync(self, runs: list[Run] | None = None) -> list[Run]:
        """Converge these runs (default: every active run) with their sites, then finalize
        every ended run not yet finalized; returns the runs that changed.

        Runs left SUBMITTING by a process that died are first reconciled with their site.
        A full sync (no ``runs``) first reconciles the schedules.
        """
        if runs is None:
            self.tick_schedules()
        else:  # a sweep converges through its points
            store = self._context.store
            runs = [p for r in runs for p in ([r, *store.points(r.id)] if r.is_sweep else [r])]
        changed = self._reconciler.converge(self.active() if runs is None else runs)
        self._finalizer.finalize()
        return changed

    def synced(self, run_id: str) -> Run:
        """One run after syncing it with its site."""
        self.sync([self.get(run_id)])
        return self.get(run_id)

    # ------------------------------------------------------------------ logs
    def logs(self, run_id: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        """Exactly the log bytes from ``offset``; ``eof`` once the run ended and all is read.

        A chunk that is not the end never ends inside a UTF-8 character: the cut bytes come
        whole with the next read, so text decoded chunk by chunk is the log's text.
        """
        if offset < 0:
            raise MantikError(f"offset must be 0 or more, got {offset}", key="offset")
        if limit is not None and limit < 1:
            raise MantikError(f"limit must be 1 or more, got {limit}", key="limit")
        run = self.get(run_id)  # state first: once terminal, the log is complete
        # no job on the site yet (still being submitted, or its submission failed): no log
        data = self.backend(run.site).read_log(run, offset, limit) if _has_job(run) else b""
        eof = run.run_state.terminal and (limit is None or len(data) < limit)
        if not eof:
            data = _whole_characters(data)
        return LogChunk(data, offset, offset + len(data), eof, run.state)

    def follow_logs(
        self, run_id: str, offset: int = 0, interval: float = 0.5
    ) -> Iterator[LogChunk]:
        """Yield new log chunks as they are written, until the run ended and all was read
        (syncing the run as it goes)."""
        while True:
            self.synced(run_id)
            chunk = self.logs(run_id, offset, FOLLOW_CHUNK)  # never a whole large log at once
            if chunk.data or chunk.eof:
                yield chunk
            if chunk.eof:
                return
            offset = chunk.next_offset
            if not chunk.data:
                time.sleep(interval)

    def wait(self, run_id: str, interval: float = 0.5, timeout: float | None = None) -> Run:
        """Sync the run until it reaches a terminal state (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.synced(run_id)
            if run.run_state.terminal:
                return run
            if deadline is not None and time.monotonic() > deadline:
                return run
            time.sleep(interval)

    # ------------------------------------------------------------------ actions
    def cancel(self, run_id: str) -> Run:
        """End a queued or running job; CANCELLED once the site confirms."""
        run = self.synced(run_id)
        if run.run_state.terminal:
            raise ConflictError(f"run {run.id} has already ended ({run.state})", key="run")
        if run.run_state == RunState.SUBMITTING:
            if not self._submitter.cancel(run.id):
                raise ConflictError(f"run {run.id}'s submission was interrupted (no process "
                                    "submits it any more); it is adopted or failed at a "
                                    "coming sync, cancel it then", key="run")
            run = self._left_submitting(run.id)
            # a request to another process that ended its submission anyway is void
            self._context.cancel_request(run.id).unlink(missing_ok=True)
            if run.run_state.terminal:  # stopped before any job reached the site
                return run
        if run.is_sweep:  # every unfinished point, each site's arrays at once
            by_site: dict[str, list[Run]] = {}
            for point in self.points(run.id):
                if not point.run_state.terminal and point.remote_job_id:
                    by_site.setdefault(point.site, []).append(point)
            for site, points in by_site.items():
                self.backend(site).cancel_points(points)
        else:
            self.backend(run.site).cancel(run)
        return self.synced(run.id)

    def _left_submitting(self, run_id: str, timeout: float = CANCEL_WAIT) -> Run:
        """The run once its submission stopped (it stops at its next progress report)."""
        deadline = time.monotonic() + timeout
        run = self.get(run_id)
        while run.run_state == RunState.SUBMITTING and time.monotonic() < deadline:
            time.sleep(0.05)
            run = self.get(run_id)
        if run.run_state == RunState.SUBMITTING:
            raise ConflictError(f"run {run_id} is still being submitted; its cancel takes "
                                "effect at the next step", key="run")
        return run

    def rename(self, run_id: str, name: str) -> Run:
        """Give a run a new display name."""
        if not name or not name.strip():
            raise MantikError("a run name must not be empty", key="name")
        store = self._context.store
        return store.update(store.get(run_id).id, name=plain_text(name.strip(), "name"))

    def files(self, run_id: str, path: str = "") -> list[FileEntry]:
        """Entries of a folder of the run's working directory."""
        run = self.get(run_id)
        return self.backend(run.site).list_files(run, path) if _has_job(run) else []

    def download(self, run_id: str, path: str, to: Path,
                 progress: Progress = NO_PROGRESS) -> Path:
        """Copy a file or folder of the run's working directory into ``to``, reporting
        each file to ``progress``."""
        run = self.get(run_id)
        progress.phase("downloading")
        budget = Budget(run, path or run.id, progress)
        Path(to).mkdir(parents=True, exist_ok=True)
        # fetched aside, then moved in: a download refused half-way leaves nothing in ``to``
        with tempfile.TemporaryDirectory(prefix=".downloading-", dir=to) as tmp:
            return move_into(self.backend(run.site).download(run, path, Path(tmp), budget),
                             Path(to))

    def download_notebook(self, run_id: str, to: Path) -> Path:
        """Copy the run's executed notebook into the folder ``to``, never over a copy there
        that differs (the user may have edited the one fetched before)."""
        run = self.get(run_id)
        if not run.output_notebook:
            raise ConflictError(f"run {run.id} has no executed notebook", key="run")
        with tempfile.TemporaryDirectory(prefix="mantik-notebook-") as tmp:
            fetched = self.backend(run.site).download(
                run, run.output_notebook, Path(tmp), Budget(run, run.output_notebook))
            return keep_beside(fetched, Path(to))

    def delete(self, run_id: str, *, remote: bool = False) -> None:
        """Forget a run (an active one must be cancelled first); ``remote`` also removes its
        working directory on the site."""
        run = self.synced(run_id)
        if not run.run_state.terminal:
            raise ConflictError(
                f"run {run.id} is still {run.state}; cancel it first", key="run"
            )
        if run.is_sweep:  # its points go with it; the sweep itself has no directory
            for point in self.points(run.id):
                self.delete(point.id, remote=remote)
        elif remote:
            self.backend(run.site).delete(run)
        shutil.rmtree(self._context.results(run.id), ignore_errors=True)
        self._context.store.delete(run.id)


def _sweep_of(request: SubmitRequest | SweepRequest) -> SweepRequest | None:
    """The sweep a request asks for, if any (a config's ``Sweep`` key makes one too)."""
    return request if isinstance(request, SweepRequest) else SweepRequest.asked(request)


def _has_job(run: Run) -> bool:
    """Whether a job of the run reached its site (a run SUBMITTING or whose submission
    failed has none: nothing to read there)."""
    return bool(run.remote_job_id or run.work_dir)


def _whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 sequence cut at its end (unchanged if that leaves nothing)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        length = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 \
            else 4 if byte >> 3 == 0b11110 else 1
        return data[:-back] if length > back and len(data) > back else data
    return data
