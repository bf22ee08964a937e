"""What any backend in front of Slurm knows about Slurm, whatever carries its commands.

FirecREST today, and ``sbatch``/``squeue``/``sacct`` over local commands or SSH next, all
report jobs as :class:`SlurmJob`; this module maps their states to run states, writes the
``#SBATCH`` lines, finds a run's job by its name and directory, and has the job note its
Slurm id in the run directory when it starts (found again after the site's job list has
forgotten it).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..spec import RunSpec, plain_text
from ..states import RunState
from . import JobStatus
from .remote import job_name

QUEUED = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                    "SUSPENDED", "RESV_DEL_HOLD"})
RUNNING = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"})
FAILED = frozenset({"COMPLETED", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                    "PREEMPTED", "DEADLINE"})  # COMPLETED: with a non-zero exit code
#: The job writes its Slurm id here when it starts: a recovery finds the job by it after the
#: site's job list has forgotten the job (a list holds recent jobs only).
JOB_ID_FILE = ".mantik-job-id"
#: The shell line (first in the job) that writes :data:`JOB_ID_FILE`.
NOTE_JOB_ID = f'printf %s "${{SLURM_JOB_ID:-}}" > {JOB_ID_FILE}'
#: ``Resources`` keys that are one ``sbatch`` option each.
OPTIONS = {"Queue": "partition", "Nodes": "nodes", "TotalCPUs": "ntasks",
           "CPUsPerNode": "cpus-per-task", "GPUsPerNode": "gpus-per-node",
           "Reservation": "reservation", "NodeConstraints": "constraint", "QoS": "qos",
           "Project": "account"}


@dataclass(frozen=True)
class SlurmJob:
    """One Slurm job as a front reports it (FirecREST's job model, an ``sacct`` line)."""

    job_id: str
    name: str
    work_dir: str | None
    #: Slurm's state as given, e.g. ``CANCELLED by 1000``
    state: str
    exit_code: int | None = None
    signal: int | None = None
    started_at: str | None = None
    ended_at: str | None = None
    #: why a pending job waits, as Slurm says (``BeginTime``, ``Priority``, ...)
    reason: str | None = None
    #: when a job held by ``--begin`` may start (Slurm's StartTime while it is pending)
    begins_at: str | None = None

    @property
    def status(self) -> JobStatus:
        """The job's state as a run state, the native one kept."""
        base = self.state.split()[0] if self.state.strip() else "UNKNOWN"
        if base in QUEUED:
            state = RunState.QUEUED
        elif base in RUNNING:
            state = RunState.RUNNING
        elif base == "COMPLETED" and self.exit_code in (None, 0):
            state = RunState.COMPLETED
        elif base == "CANCELLED":
            state = RunState.CANCELLED
        elif base == "TIMEOUT":
            state = RunState.TIMEOUT
        elif base in FAILED:
            state = RunState.FAILED
        else:
            state = RunState.UNKNOWN
        reason = None
        if state is RunState.QUEUED and self.reason == "BeginTime" and self.begins_at:
            reason = f"starts at {self.begins_at}"
        if state.terminal and state is not RunState.COMPLETED:
            reason = f"Slurm state {self.state}, exit code {self.exit_code}" + (
                f", signal {self.signal}" if self.signal else "")
        return JobStatus(state, self.state, reason, self.exit_code, self.started_at,
                         self.ended_at)


def run_job(jobs: Iterable[SlurmJob], run_id: str, work_dir: str) -> SlurmJob | None:
    """The job a run started: named after the run and working in the run's directory."""
    name = job_name(run_id)
    return next((job for job in jobs if job.name == name and job.work_dir == work_dir), None)


def noted_job_id(text: str) -> str | None:
    """The Slurm id in a :data:`JOB_ID_FILE` (None when the job noted none)."""
    return text.strip() or None


def begin_delay(begin: datetime, now: datetime) -> int:
    """Whole seconds for ``--begin=now+N`` so the job starts no earlier than ``begin``.

    Slurm reads absolute times in the submitting host's zone and refuses offsets, so the
    delay is what is sent; one second more covers Slurm truncating its own clock."""
    return max(0, math.ceil((begin - now).total_seconds()) + 1)


def directives(spec: RunSpec, run_id: str, begin_in: int | None = None) -> list[str]:
    """``#SBATCH`` lines for the run's job name, the Mantik ``Resources`` and a deferred
    start ``begin_in`` seconds after submission (see :func:`begin_delay`), values quoted."""
    res = spec.resources
    options: list[tuple[str, object]] = [("job-name", job_name(run_id))]
    if begin_in:
        options.append(("begin", f"now+{begin_in}"))
    options += [(option, res[key]) for key, option in OPTIONS.items() if key in res]
    if spec.runtime_seconds:
        options.append(("time", _clock(spec.runtime_seconds)))
    if spec.memory_mb:
        options.append(("mem", f"{spec.memory_mb}M"))
    # validated specs hold no control characters; checked again here, where a newline
    # would end the directive and start a shell command
    return [f"#SBATCH --{option}={shlex.quote(plain_text(str(value), f'--{option}'))}"
            for option, value in options]


def _clock(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
