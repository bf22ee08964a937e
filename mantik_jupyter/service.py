"""RunService: the one engine behind the CLI, the REST API and the magics.

submit / list / get / cancel / rerun / logs / files / download / delete, over the run
store, the site catalog, the backends and MLflow tracking. The store is the Jupyter side's
truth; the gateway is the truth for the job, and every read of an active run converges
the store to it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import paths
from .backends import LOG_FILE, Backend, FileEntry, JobRequest, JobStatus, backend_class
from .bundle import stage
from .errors import ConflictError, MantikError, NotFoundError
from .executed import failure_reason
from .hashcache import HashCache
from .locks import RunLock
from .params import Parameter, notebook_parameters, resolve_parameters
from .sites import Site, SiteCatalog
from .spec import RunSpec, load_config, plain_text
from .states import RunState
from .store import Run, RunStore, now
from .tracking import OFFLINE_STORE, Tracker, git_commit

log = logging.getLogger(__name__)

DEFAULT_SITE = "local"
#: Seconds a SUBMITTING run is left alone after its last change, whatever its lock says: a
#: process on another machine sharing this home, or a gateway still working on a request
#: whose sender died, is given this long before the run is reconciled with its site.
SUBMIT_GRACE = 60.0
INTERRUPTED = ("the submission was interrupted (the submitting process ended) before any "
               "job reached the site")


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
    """Submits notebooks to sites and keeps their runs' records in step with the sites."""

    def __init__(
        self,
        home: Path | None = None,
        catalog: SiteCatalog | None = None,
        tracker: Tracker | None = None,
        submit_grace: float = SUBMIT_GRACE,
        contents_root: Path | None = None,
    ):
        if submit_grace < 0:
            raise MantikError(f"submit_grace must be 0 or more seconds, got {submit_grace}",
                              key="submit_grace")
        self.submit_grace = submit_grace
        #: The server's contents root: notebooks and ProjectRoot must stay inside it.
        self.contents_root = contents_root
        self.home = Path(home) if home else paths.home()
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = RunStore(self.home / "runs.db")
        self.catalog = catalog or SiteCatalog(self.home)
        self.tracker = tracker or Tracker(self.home)
        self.hashes = HashCache(self.home / "file-hashes.db")
        self._backends: dict[str, Backend] = {}

    # ------------------------------------------------------------------ sites
    def backend(self, site: Site | str) -> Backend:
        """The backend instance serving a site (one per site, kept)."""
        site = self.catalog.get(site) if isinstance(site, str) else site
        if site.name not in self._backends:
            self._backends[site.name] = backend_class(site.kind)(site, self.home)
        return self._backends[site.name]

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
    def submit(
        self,
        notebook: str | Path,
        *,
        site: str | None = None,
        config: Mapping | str | None = None,
        parameters: Mapping[str, Any] | None = None,
        parameter_texts: Mapping[str, str] | None = None,
        name: str | None = None,
        parent_id: str | None = None,
    ) -> Run:
        """Validate, bundle and submit a notebook; returns the QUEUED run.

        ``config`` is YAML text or a mapping; ``parameters`` are typed values,
        ``parameter_texts`` command-line texts converted to the declared types. Nothing is
        left behind when any step fails: no record, no MLflow run, no staging folder.
        """
        spec = _spec_of(config)
        notebook_path = Path(notebook).expanduser().resolve()
        declared = notebook_parameters(notebook_path)
        site_obj = self.catalog.get(site or spec.site or DEFAULT_SITE)
        backend = self.backend(site_obj)
        backend.validate(spec)
        given = resolve_parameters(
            declared, {**spec.parameters, **(parameters or {})}, dict(parameter_texts or {})
        )
        spec = spec.with_overrides({"Parameters": given, "Site": site_obj.name})
        run_id = uuid.uuid4().hex[:12]
        run_name = plain_text(name, "name") if name else (
            spec.name or f"{notebook_path.stem}-{run_id[:6]}")
        staging = self.home / "staging" / run_id
        staging.parent.mkdir(exist_ok=True, mode=0o700)
        with self._submit_lock(run_id):  # held until the record has left SUBMITTING
            run: Run | None = None
            try:
                bundle = stage(notebook_path, run_id=run_id, config=spec.config, parameters=given,
                               dest=staging, skip=(self.home,), within=self.contents_root,
                               hashes=self.hashes)
                run = self.store.insert(Run(
                    id=run_id, name=run_name, site=site_obj.name, notebook=str(notebook_path),
                    parameters=given, spec=spec.config, bundle_hash=bundle.bundle_hash,
                    parent_id=parent_id,
                ))
                effective = {n: given.get(n, p.default) for n, p in declared.items()}
                mlflow_run_id, experiment_id = self.tracker.start(
                    run_id=run_id, name=run_name, experiment=spec.experiment,
                    parameters=effective, tags=self._tags(run, notebook_path, spec),
                )
                run = self.store.update(run_id, mlflow_run_id=mlflow_run_id,
                                        mlflow_experiment_id=experiment_id)
                submission = backend.submit(JobRequest(
                    run_id=run_id, name=run_name, bundle=bundle, spec=spec,
                    env=self._job_env(run, site_obj), secret_env=self.tracker.job_secrets(),
                ))
            except BaseException:
                self._discard(run, staging)
                raise
            shutil.rmtree(staging, ignore_errors=True)
            return self.store.update(
                run_id, state=RunState.QUEUED.value, native_state="SUBMITTED",
                remote_job_id=submission.remote_job_id, work_dir=submission.work_dir,
                script=submission.script, bytes_uploaded=submission.bytes_uploaded,
            )

    def _submit_lock(self, run_id: str) -> RunLock:
        """The lock a live process holds while it submits the run (or recovers it)."""
        return RunLock(self.home / "staging" / f"{run_id}.lock")

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
            "MLFLOW_TRACKING_URI": self.tracker.uri_for_humans,
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
        current = self.store.get(run.id)
        if current.mlflow_run_id:
            try:
                self.tracker.delete(current.mlflow_run_id)
            except Exception:  # noqa: BLE001 - best effort; the submit error matters more
                log.warning("could not delete MLflow run %s", current.mlflow_run_id)
        self.store.delete(run.id)

    # ------------------------------------------------------------------ reads
    def get(self, run_id: str, *, refresh: bool = True) -> Run:
        """One run by id (or unique prefix), converged with its site first if active."""
        run = self.store.get(run_id)
        if refresh and not run.run_state.terminal:
            self.refresh([run])
            run = self.store.get(run.id)
        self._finalize_pending([run])
        return self.store.get(run.id)

    def list(
        self,
        *,
        states: list[str] | None = None,
        site: str | None = None,
        notebook: str | None = None,
        text: str | None = None,
        limit: int | None = None,
        refresh: bool = True,
    ) -> list[Run]:
        """Runs newest first, after converging the active ones with their sites."""
        if refresh:
            self.refresh()
        return self.store.list(states=states, site=site, notebook=notebook, text=text,
                               limit=limit)

    def refresh(self, runs: list[Run] | None = None) -> list[Run]:
        """Ask each site, once per site, about its active runs; returns the changed runs.

        Runs left SUBMITTING by a process that died are first reconciled with their site.
        """
        active = [r for r in (runs if runs is not None else self.store.active())
                  if not r.run_state.terminal]
        submitting = [r for r in active if r.run_state == RunState.SUBMITTING]
        recovered = self._recover(submitting) if submitting else []
        active = [r for r in active if r.run_state != RunState.SUBMITTING] + [
            r for r in recovered if not r.run_state.terminal]
        by_site: dict[str, list[Run]] = {}
        for run in active:
            by_site.setdefault(run.site, []).append(run)
        changed = {r.id: r for r in recovered}
        for site_name, site_runs in by_site.items():
            try:
                statuses = self.backend(site_name).status(site_runs)
            except MantikError as exc:
                log.warning("could not refresh runs on site %s: %s", site_name, exc.message)
                continue
            for run in site_runs:
                status = statuses.get(run.id)
                if status is not None:
                    updated = self._apply(run, status)
                    if updated is not None:
                        changed[run.id] = updated
        self._finalize_pending()
        return list(changed.values())

    def _recover(self, runs: list[Run]) -> list[Run]:
        """Settle SUBMITTING runs whose submitting process is gone; returns those changed.

        A run is touched only after the grace period and while nobody holds its lock (a live
        submitter does, in this process or another). Its job is looked up on the site by the
        run's identity: found, the record adopts it; not found, the run FAILED. Nothing is
        ever submitted here; a site that cannot answer leaves the run for the next refresh.
        """
        horizon = (datetime.now(timezone.utc) - timedelta(seconds=self.submit_grace)).isoformat(
            timespec="microseconds")
        changed = []
        for run in runs:
            if run.updated_at > horizon:
                continue
            lock = self._submit_lock(run.id)
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
        try:
            run = self.store.get(run_id)  # read again under the lock: a submitter may have won
        except NotFoundError:  # its submission failed and was undone meanwhile
            return None
        if run.run_state != RunState.SUBMITTING:
            return None
        found = self.backend(run.site).find(run)
        shutil.rmtree(self.home / "staging" / run.id, ignore_errors=True)
        if found is None:
            log.warning("run %s: %s", run.id, INTERRUPTED)
            return self.store.update_if(run.id, RunState.SUBMITTING.value,
                                        state=RunState.FAILED.value, reason=INTERRUPTED,
                                        ended_at=now())
        log.warning("run %s: adopted job %s, which an interrupted submission left on site %s",
                    run.id, found.remote_job_id, run.site)
        return self.store.update_if(
            run.id, RunState.SUBMITTING.value, state=RunState.QUEUED.value,
            native_state="SUBMITTED", remote_job_id=found.remote_job_id,
            work_dir=found.work_dir, script=found.script)

    def _apply(self, run: Run, status: JobStatus) -> Run | None:
        """Write a newly observed job status to the store (one transaction)."""
        state = status.state
        changes: dict[str, Any] = {}
        if state.value != run.state:
            changes["state"] = state.value
        for field in ("native_state", "exit_code", "started_at", "ended_at"):
            value = getattr(status, field)
            if value is not None and value != getattr(run, field):
                changes[field] = value
        reason = status.reason
        if state == RunState.FAILED and run.state != state.value:
            reason = self._failure_reason(run) or reason
        if reason is not None and reason != run.reason:
            changes["reason"] = reason
        if state.terminal and not (run.ended_at or status.ended_at):
            changes["ended_at"] = now()
        if not changes:
            return None
        return self.store.update(run.id, **changes)

    def _failure_reason(self, run: Run) -> str | None:
        notebook = self._fetch_result(run, _output_notebook(run))
        return failure_reason(notebook) if notebook else None

    def _results_dir(self, run: Run) -> Path:
        path = self.home / "results" / run.id
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def _fetch_result(self, run: Run, relative: str) -> Path | None:
        """Copy one file of the run's working directory home, if it is there."""
        if not run.work_dir:  # no job ever reached the site
            return None
        try:
            return self.backend(run.site).download(run, relative, self._results_dir(run))
        except MantikError:
            return None

    def _finalize_pending(self, runs: list[Run] | None = None) -> None:
        """Log results of ended runs to MLflow, once per run, retried if tracking failed."""
        pending = self.store.unfinalized() if runs is None else [
            r for r in runs if r.run_state.terminal and not r.finalized
        ]
        for run in pending:
            if not self.store.claim_finalize(run.id):
                continue
            try:
                artifacts = [p for p in (self._fetch_result(run, _output_notebook(run)),
                                         self._fetch_result(run, LOG_FILE)) if p]
                if run.mlflow_run_id:
                    self._import_offline(run)
                    self.tracker.finish(run.mlflow_run_id, run.run_state, artifacts)
            except Exception as exc:  # noqa: BLE001 - tracking down must not break reads
                log.warning("could not log run %s to MLflow (will retry): %s", run.id,
                            self.tracker.redact(str(exc)))
                self.store.update(run.id, finalized=0)

    def _import_offline(self, run: Run) -> None:
        """For a site whose compute nodes have no network: import the job's file store."""
        try:
            offline = self.catalog.get(run.site).settings.get("offline_tracking")
        except MantikError:  # the site's profile was removed since
            return
        store = self._fetch_result(run, OFFLINE_STORE) if offline else None
        if store is not None:
            self.tracker.import_offline(run.mlflow_run_id, store)

    # ------------------------------------------------------------------ logs
    def logs(self, run_id: str, offset: int = 0, limit: int | None = None,
             *, refresh: bool = True) -> LogChunk:
        """Exactly the log bytes from ``offset``; ``eof`` once the run ended and all is read.

        A chunk that is not the end never ends inside a UTF-8 character: the cut bytes come
        whole with the next read, so text decoded chunk by chunk is the log's text.
        """
        if offset < 0:
            raise MantikError(f"offset must be 0 or more, got {offset}", key="offset")
        if limit is not None and limit < 1:
            raise MantikError(f"limit must be 1 or more, got {limit}", key="limit")
        run = self.get(run_id, refresh=refresh)  # state first: once terminal, log complete
        data = self.backend(run.site).read_log(run, offset, limit)
        eof = run.run_state.terminal and (limit is None or len(data) < limit)
        if not eof:
            data = _whole_characters(data)
        return LogChunk(data, offset, offset + len(data), eof, run.state)

    def follow_logs(
        self, run_id: str, offset: int = 0, interval: float = 0.5
    ) -> Iterator[LogChunk]:
        """Yield new log chunks as they are written, until the run ended and all was read."""
        while True:
            chunk = self.logs(run_id, offset)
            if chunk.data or chunk.eof:
                yield chunk
            if chunk.eof:
                return
            offset = chunk.next_offset
            if not chunk.data:
                time.sleep(interval)

    def wait(self, run_id: str, interval: float = 0.5, timeout: float | None = None) -> Run:
        """Block until the run reaches a terminal state (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if run.run_state.terminal:
                return run
            if deadline is not None and time.monotonic() > deadline:
                return run
            time.sleep(interval)

    # ------------------------------------------------------------------ actions
    def cancel(self, run_id: str) -> Run:
        """End a queued or running job; CANCELLED once the site confirms."""
        run = self.get(run_id)
        if run.run_state.terminal:
            raise ConflictError(f"run {run.id} has already ended ({run.state})", key="run")
        if run.run_state == RunState.SUBMITTING:
            raise ConflictError(f"run {run.id} is still being submitted", key="run")
        self.backend(run.site).cancel(run)
        return self.get(run.id)

    def rerun(
        self,
        run_id: str,
        *,
        config: Mapping | str | None = None,
        parameters: Mapping[str, Any] | None = None,
        parameter_texts: Mapping[str, str] | None = None,
        site: str | None = None,
        name: str | None = None,
        replace: bool = False,
    ) -> Run:
        """Submit the run's notebook again as a new run whose parent is this one.

        ``config`` is YAML text or a mapping. By default it is deep-merged into the run's
        configuration and ``parameters`` override the run's (``rerun ID -p x=1``). With
        ``replace`` they are the new run's whole configuration and parameters, so what they
        leave out is gone: that is how an edit form clears a field.
        """
        original = self.store.get(run_id)
        if isinstance(config, str):
            config = load_config(config)
        if replace:
            spec = RunSpec.from_config(config)
        else:
            spec = RunSpec(original.spec).with_overrides(config or {})
            parameters = {**original.parameters, **(parameters or {})}
        return self.submit(
            original.notebook, site=site or spec.site or original.site, config=spec.config,
            parameters=parameters, parameter_texts=parameter_texts, name=name,
            parent_id=original.id,
        )

    def rename(self, run_id: str, name: str) -> Run:
        """Give a run a new display name."""
        if not name or not name.strip():
            raise MantikError("a run name must not be empty", key="name")
        return self.store.update(self.store.get(run_id).id,
                                 name=plain_text(name.strip(), "name"))

    def files(self, run_id: str, path: str = "") -> list[FileEntry]:
        """Entries of a folder of the run's working directory."""
        run = self.store.get(run_id)
        return self.backend(run.site).list_files(run, path)

    def download(self, run_id: str, path: str, to: Path) -> Path:
        """Copy a file or folder of the run's working directory into ``to``."""
        run = self.store.get(run_id)
        return self.backend(run.site).download(run, path, Path(to))

    def delete(self, run_id: str, *, remote: bool = False) -> None:
        """Forget a run (an active one must be cancelled first); ``remote`` also removes its
        working directory on the site."""
        run = self.get(run_id)
        if not run.run_state.terminal:
            raise ConflictError(
                f"run {run.id} is still {run.state}; cancel it first", key="run"
            )
        if remote:
            self.backend(run.site).delete(run)
        shutil.rmtree(self.home / "results" / run.id, ignore_errors=True)
        self.store.delete(run.id)


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


def _spec_of(config: Mapping | str | None) -> RunSpec:
    if isinstance(config, str):
        return RunSpec(load_config(config))
    return RunSpec.from_config(config)


def _output_notebook(run: Run) -> str:
    from .bundle import OUTPUT_DIR

    return f"{OUTPUT_DIR}/{Path(run.notebook).name}"
