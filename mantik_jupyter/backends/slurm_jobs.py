"""What any backend in front of Slurm knows about Slurm, whatever carries its commands.

FirecREST today, and ``sbatch``/``squeue``/``sacct`` over local commands or SSH next, all
report jobs as :class:`SlurmJob`; this module maps their states to run states, writes the
``#SBATCH`` lines, finds a run's job by its name and directory, and has the job note its
Slurm id in the run directory when it starts (found again after the site's job list has
forgotten it).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from ..spec import RunSpec, plain_text
from ..states import RunState
from ..store import Run
from . import JobRequest, JobStatus
from .remote import job_name

T = TypeVar("T")

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


def array_spec(count: int, max_concurrent: int | None) -> str:
    """Slurm's ``--array`` value for ``count`` tasks, at most ``max_concurrent`` at once."""
    return f"0-{count - 1}" + (f"%{max_concurrent}" if max_concurrent else "")


def task_indices(job_id: str) -> tuple[str, list[str]]:
    """An array entry's id split: ``123_4`` -> ("123", ["4"]); a not yet split rest such as
    ``123_[5-9%2]`` or ``123_[1,3-4]`` -> ("123", ["5", ..., "9"]); else (id, [])."""
    array, sep, rest = job_id.partition("_")
    if not sep:
        return job_id, []
    indices: list[str] = []
    for part in rest.strip("[]").split("%")[0].split(","):
        first, dash, last = part.partition("-")
        if first.isdigit() and (not dash or last.isdigit()):
            indices += [str(i) for i in range(int(first), int(last if dash else first) + 1)]
    return array, indices


def array_ids(runs: Iterable[Run]) -> list[str]:
    """The jobs (an array's id for its tasks, ``123`` for ``123_4``) the runs' jobs belong
    to, each once, sorted: what one ``squeue -j`` or ``scancel`` names for them all."""
    return sorted({r.remote_job_id.partition("_")[0] for r in runs if r.remote_job_id})


def split_tasks(jobs: dict[str, T]) -> dict[str, T]:
    """``jobs`` by id, an array's not yet split rest (``123_[5-9%2]``) also under each of its
    tasks' ids (``123_5`` ... ``123_9``): a sweep's points are found by their task's id."""
    found = dict(jobs)
    for job_id, job in jobs.items():
        if "[" in job_id:
            array, indices = task_indices(job_id)
            for index in indices:
                found.setdefault(f"{array}_{index}", job)
    return found


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


def job_directives(spec: RunSpec, job: JobRequest) -> list[str]:
    """The ``#SBATCH`` lines of a job request: its array, if any, and its begin time as a
    delay from now (see :func:`begin_delay`)."""
    begin_in = begin_delay(job.begin, datetime.now(timezone.utc)) if job.begin else None
    return directives(spec, job.run_id, job.array, begin_in)


def directives(spec: RunSpec, run_id: str, array: str | None = None,
               begin_in: int | None = None) -> list[str]:
    """``#SBATCH`` lines for the run's job name, the Mantik ``Resources``, a job array
    (``array``: ``0-11%2``) and a deferred start ``begin_in`` seconds after submission (see
    :func:`begin_delay`), values quoted."""
    res = spec.resources
    options: list[tuple[str, object]] = [("job-name", job_name(run_id))]
    if array:
        options.append(("array", array))
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


# ---------------------------------------------------------------------- Slurm's own commands
#: ``squeue`` columns, each ended by ``|`` (free text last); times as epoch seconds (a pending
#: job's StartTime is when Slurm expects it to start: a --begin job's begin).
SQUEUE_FIELDS = ("JobID", "ArrayJobID", "ArrayTaskID", "State", "StartTime", "EndTime",
                 "Reason", "Name", "WorkDir")
#: ``sacct`` columns: the same facts (sacct names array tasks ``123_4`` itself), plus the
#: exit code (``CODE:SIGNAL``).
SACCT_FIELDS = ("JobID", "State", "Start", "End", "ExitCode", "JobName", "WorkDir")
#: A job's id, an array task's (``123_4``) or an array's not yet split rest (``123_[5-9%2]``).
JOB_ID = re.compile(r"\d+(_\d+|_\[[\d,%-]+\])?")
#: The line between ``squeue``'s and ``sacct``'s part of :func:`query_command`'s output.
SACCT_MARK = "--mantik-sacct--"


def query_command(job_ids: Iterable[str] = (), name: str | None = None) -> str:
    """One shell command line asking Slurm for the user's jobs by id or by name: ``squeue``
    (every job the controller still holds, ended ones included), then ``sacct`` for exit
    codes. Without an accounting database ``sacct -c`` (the job-completion log) is tried,
    and a cluster with neither still answers through ``squeue`` alone."""
    ids = ",".join(job_ids)
    if ids and not all(JOB_ID.fullmatch(part) for part in ids.split(",")):
        raise ValueError(f"not Slurm job ids: {ids!r}")
    # sacct looks back to midnight unless given job ids; ``sacct -c`` ignores the name
    pick = (f"-j {ids}" if ids
            else f"-S now-7days -n {shlex.quote(plain_text(name, 'job name'))}")
    squeue = (f"squeue --me -h -t all {pick.replace('-S now-7days ', '')} -O "
              + shlex.quote(",".join(f"{f}:|" for f in SQUEUE_FIELDS)) + " 2>/dev/null")
    sacct_args = f"-X -n -P {pick} -o {','.join(SACCT_FIELDS)}"
    return (f"export SLURM_TIME_FORMAT=%s; {squeue}; echo {SACCT_MARK}; "
            f"sacct {sacct_args} 2>/dev/null || sacct -c {sacct_args} 2>/dev/null; true")


def parse_query(output: str) -> dict[str, SlurmJob]:
    """The jobs in :func:`query_command`'s output by id, ``sacct``'s record (exit code and
    all) over ``squeue``'s for a job that has ended."""
    queue, _, accounting = output.partition(SACCT_MARK)
    jobs: dict[str, SlurmJob] = {}
    for line in queue.splitlines():
        parts = line.rstrip("|").split("|", len(SQUEUE_FIELDS) - 1)
        if len(parts) == len(SQUEUE_FIELDS) and JOB_ID.fullmatch(parts[0].strip()):
            own_id, array, task, state, start, end, reason, name, work_dir = (
                p.strip() for p in parts)
            # squeue's JobID of an array task is its own number; Slurm names it 123_4 (and
            # the pending rest 123_[5-9%2]) everywhere else
            job_id = own_id if task in ("", "N/A") else (
                f"{array}_{task}" if task.isdigit() else f"{array}_[{task}]")
            pending = state in QUEUED
            jobs[job_id] = SlurmJob(job_id, name, work_dir or None, state, None, None,
                                    None if pending else _epoch(start),
                                    None if pending or state in RUNNING else _epoch(end),
                                    reason if pending else None,
                                    _epoch(start) if pending else None)
    for line in accounting.splitlines():
        parts = line.split("|", len(SACCT_FIELDS) - 1)
        if len(parts) != len(SACCT_FIELDS) or not JOB_ID.fullmatch(parts[0]):
            continue  # a step, a pending array's summary or a line of an error
        job_id, state, start, end, code, name, work_dir = parts
        held = jobs.get(job_id)
        if held is not None and (not held.status.state.terminal or not state.strip()):
            continue  # squeue knows better while the job lives (sacct -c lags behind)
        exit_code, _, signal = code.partition(":")
        jobs[job_id] = SlurmJob(job_id, name, work_dir.rstrip("/") or None, state,
                                int(exit_code) if exit_code.isdigit() else None,
                                int(signal) if signal.isdigit() and int(signal) else None,
                                _epoch(start), _epoch(end))
    return jobs


def _epoch(text: str) -> str | None:
    """An ISO time from Slurm's epoch seconds (``SLURM_TIME_FORMAT=%s``); None if unset."""
    text = text.strip()
    if not text.isdigit() or int(text) == 0:
        return None
    return datetime.fromtimestamp(int(text), timezone.utc).isoformat()
