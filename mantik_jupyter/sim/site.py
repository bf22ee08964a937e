"""The simulated site shared by both gateways: jobs, executor, file systems, auth, faults,
and FirecREST's staging object store."""

from __future__ import annotations

import os
import pwd
import shutil
import time
import uuid
from pathlib import Path

from .auth import Authenticator
from .config import SimConfig
from .executors import (
    Executor,
    Status,
    SubmitError,
    make_executor,
    script_directives,
    slurm_time,
)
from .faults import Faults
from .jobs import TERMINAL, Job, JobStore, expand_pattern
from .s3store import ObjectStore
from .tokens import TokenSigner

#: What the site keeps of each task of a job array.
TASK_FIELDS = ("state", "reason", "exit_code", "signal", "start", "end")
#: How stale the batch system's view may be before a request asks it again.
REFRESH_INTERVAL = 0.2


class Site:
    """One site: a job store under ``root/state``, job folders, one executor behind both APIs."""

    def __init__(self, config: SimConfig, faults: Faults | None = None) -> None:
        self.config = config
        self.state_dir = config.root / "state"
        self.scripts_dir = self.state_dir / "scripts"
        self.scripts_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.unicore_dir = config.root / "unicore" / "jobs"
        self.unicore_dir.mkdir(parents=True, exist_ok=True)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.store = JobStore(self.state_dir / "jobs")
        self.executor: Executor
        self.executor, self.notice = make_executor(
            config.executor, self.state_dir, config.slots, config.slurm_conf
        )
        self.auth = Authenticator(config.username, config.password, config.client_id,
                                  config.client_secret, config.token_lifetime,
                                  TokenSigner(config.root / "auth"), self.user)
        self.faults = faults or Faults()
        self.objects = ObjectStore(config.root / "s3", config.url_ttl)
        self._partitions: list[dict] | None = None
        self._refreshed = 0.0
        for system in config.systems:
            for folder in self.filesystems(system).values():
                folder.mkdir(parents=True, exist_ok=True)

    def filesystems(self, system: str) -> dict[str, Path]:
        """A FirecREST system's file systems by data type: ``users`` (home) and ``scratch``."""
        base = self.config.root / "firecrest" / system
        return {"users": base / "home" / self.config.username, "scratch": base / "scratch"}

    def partitions(self) -> list[dict]:
        """The executor's partitions, asked once."""
        if self._partitions is None:
            self._partitions = self.executor.partitions()
        return self._partitions

    def write_script(self, text: str) -> Path:
        """Keep a batch script outside every user-visible folder."""
        path = self.scripts_dir / f"{uuid.uuid4().hex}.sh"
        path.write_text(text)
        return path

    def submit(self, job: Job) -> None:
        """Hand a job to the executor; the batch script's ``#SBATCH`` lines fill in name and limit.

        Raises SubmitError with the batch system's words when it refuses the job.
        """
        directives = script_directives(Path(job.script).read_text())
        job.name = job.name or directives.get("--job-name") or Path(job.script).name
        job.partition = job.partition or directives.get("--partition") or self.default_partition()
        if job.time_limit is None and directives.get("--time"):
            job.time_limit = slurm_time(directives["--time"])
        native_id = self.executor.submit(job)
        job.native_id = native_id
        job.id = job.id or native_id
        job.stdout = expand_pattern(job.stdout, native_id, job.name)
        job.stderr = expand_pattern(job.stderr, native_id, job.name) if job.stderr else job.stdout
        job.state = "PENDING"
        job.note(f"Submitted to {self.executor.name} as job {native_id}"
                 f" on partition {job.partition}")
        self.store.save(job)

    def default_partition(self) -> str:
        """The partition jobs go to when they name none."""
        parts = self.partitions()
        return next((p["name"] for p in parts if p.get("default")), parts[0]["name"])

    def refresh(self) -> None:
        """Ask the executor about every unfinished job (at most every REFRESH_INTERVAL)."""
        if time.monotonic() - self._refreshed < REFRESH_INTERVAL:
            return
        active = {j.native_id: j for j in self.store.all() if j.native_id and not j.finished}
        if active:
            for native_id, status in self.executor.query(list(active)).items():
                self._update(active[native_id], status)
        self._refreshed = time.monotonic()

    def _update(self, job: Job, status: Status) -> None:
        tasks = job.merged_tasks({k: {f: getattr(t, f) for f in TASK_FIELDS}
                                  for k, t in (status.tasks or {}).items()})
        if (status.state, status.exit_code, status.start, status.reason, status.begin,
                tasks) == (job.state, job.exit_code, job.start, job.reason, job.begin,
                           job.tasks):
            return
        job.tasks = tasks
        if status.state != job.state:
            job.note(f"{self.executor.name} state {status.state}"
                     + (f" ({status.reason})" if status.reason else ""))
        job.state, job.reason = status.state, status.reason
        job.exit_code, job.signal = status.exit_code, status.signal
        job.start, job.end, job.begin = status.start, status.end, status.begin
        if job.finished and job.terminal_seen is None:
            job.terminal_seen = time.time()
            job.note(f"Finished: {job.state}, exit code {job.exit_code}:{job.signal}")
        self.store.save(job)

    def fail_submission(self, job: Job, error: SubmitError) -> None:
        """A job the batch system refused ends FAILED with the reason in its log."""
        job.state, job.reason = "FAILED", f"Submission failed: {error}"
        job.terminal_seen = time.time()
        job.note(job.reason)
        self.store.save(job)

    def cancel(self, job: Job) -> None:
        """Cancel a queued or running job; one never submitted ends CANCELLED at once."""
        if job.finished:
            return
        if job.native_id is None:
            job.state, job.terminal_seen = "CANCELLED", time.time()
            job.note("Cancelled before submission")
            self.store.save(job)
            return
        job.note("Cancel requested")
        self.store.save(job)
        self.executor.cancel(job.native_id)
        self._refreshed = 0.0

    def cancel_task(self, job: Job, task: str) -> None:
        """Cancel one task of a job array (``scancel ARRAY_TASK``)."""
        if job.native_id and (job.task(task) or {}).get("state") not in TERMINAL:
            job.note(f"Cancel of task {task} requested")
            self.store.save(job)
            self.executor.cancel(f"{job.native_id}_{task}")
            self._refreshed = 0.0

    def delete(self, job: Job) -> None:
        """Cancel, then forget the job and remove its UNICORE working directory."""
        if job.native_id and not job.finished:
            self.executor.cancel(job.native_id)
        if job.api == "unicore":
            shutil.rmtree(job.workdir, ignore_errors=True)
        self.store.remove(job.id)

    def find(self, job_id: str) -> Job | None:
        """A job of either gateway by its id (for the fault controls)."""
        return next((j for j in self.store.all() if j.id == job_id), None)
