"""Job records of the simulated site and their on-disk store (one JSON file per job)."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mantik_jupyter.paths import write_atomic

#: Slurm states after which a job never changes again.
TERMINAL = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
     "BOOT_FAIL", "DEADLINE"}
)


@dataclass
class Job:
    """One job as the site knows it; ``state`` is the raw Slurm state (``NEW`` before start)."""

    id: str
    api: str
    system: str
    workdir: str
    script: str
    stdout: str
    stderr: str
    name: str = ""
    tags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    partition: str | None = None
    time_limit: int | None = None
    sbatch_options: list[str] = field(default_factory=list)
    submitted: float = field(default_factory=time.time)
    native_id: str | None = None
    state: str = "NEW"
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    start: float | None = None
    end: float | None = None
    terminal_seen: float | None = None
    log: list[str] = field(default_factory=list)
    description: dict = field(default_factory=dict)
    #: a pending job held by ``--begin``: when Slurm will start it (its StartTime)
    begin: float | None = None
    #: a started UNICORE job held by its "Not before" time until then
    held_until: float | None = None
    #: a job array's tasks by index as the batch system last reported them (state, reason,
    #: exit_code, signal, start, end); kept after Slurm has forgotten the array
    tasks: dict[str, dict] = field(default_factory=dict)

    def task(self, index: str) -> dict | None:
        """An array task's record: its own, or that of the not yet split tasks holding it
        (``2-5%2``, ``1,3-4``)."""
        if index in self.tasks:
            return self.tasks[index]
        return next((record for key, record in self.tasks.items()
                     if index in task_range(key)), None)

    def merged_tasks(self, tasks: dict[str, dict]) -> dict[str, dict]:
        """The batch system's task records over the ones kept: a task Slurm no longer lists
        keeps its last record, and a pending task cancelled alone (which leaves Slurm's
        records without a trace, there being no accounting here) is CANCELLED, as ``sacct``
        would show it."""
        if not tasks:
            return self.tasks
        merged = dict(tasks)
        covered = {i for key in tasks for i in ({key} if key.isdigit() else task_range(key))}
        for key, record in self.tasks.items():
            if key.isdigit():
                if key not in covered:
                    merged[key] = record
            elif record.get("state") == "PENDING":
                for index in task_range(key) - covered:
                    merged[index] = {**record, "state": "CANCELLED", "exit_code": 0,
                                     "end": time.time()}
        return merged

    @property
    def finished(self) -> bool:
        """True once the batch system reported a terminal state."""
        return self.state in TERMINAL

    def note(self, message: str) -> None:
        """Append a timestamped line to the job's log (shown by UNICORE as ``log``)."""
        self.log.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())} {message}")


class JobStore:
    """Job records kept in memory and written through to ``<dir>/<id>.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        for path in sorted(directory.glob("*.json")):
            job = Job(**json.loads(path.read_text()))
            self._jobs[job.id] = job

    def save(self, job: Job) -> None:
        """Insert or update a record."""
        with self._lock:
            self._jobs[job.id] = job
            write_atomic(self.directory / f"{job.id}.json", json.dumps(asdict(job)))

    def remove(self, job_id: str) -> None:
        """Forget a record."""
        with self._lock:
            self._jobs.pop(job_id, None)
            (self.directory / f"{job_id}.json").unlink(missing_ok=True)

    def get(self, job_id: str, api: str, system: str | None = None) -> Job | None:
        """The record of ``job_id`` if it was created through ``api`` (and ``system``)."""
        job = self._jobs.get(job_id)
        if job is None or job.api != api or (system is not None and job.system != system):
            return None
        return job

    def all(self, api: str | None = None, system: str | None = None) -> list[Job]:
        """Records in submission order, optionally only those of one gateway and system."""
        with self._lock:
            jobs = list(self._jobs.values())
        chosen = [j for j in jobs if api in (None, j.api) and system in (None, j.system)]
        return sorted(chosen, key=lambda j: j.submitted)


def task_range(key: str) -> set[str]:
    """The task indices of a not yet split range as Slurm writes it (``2-5%2``, ``1,3-4``)."""
    indices: set[str] = set()
    for part in key.split("%")[0].split(","):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            indices |= {str(i) for i in range(int(first), int(last or first) + 1)}
    return indices


_DURATION = re.compile(r"(\d+)\s*([smhd]?)", re.IGNORECASE)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | int) -> int:
    """Seconds from ``3600``, ``"10m"``, ``"12h"``, ``"1h30m"`` or ``"2d"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip() or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not a duration such as 3600, '10m', '12h' or '1h30m'")
    seconds = sum(int(n) * _UNIT[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{value!r} must be a positive duration")
    return seconds


def expand_pattern(pattern: str, job_id: str, name: str) -> str:
    """Slurm's ``%j`` (job id), ``%x`` (job name) and ``%%`` in an output file name."""
    return re.sub(r"%([jx%])", lambda m: {"j": job_id, "x": name, "%": "%"}[m.group(1)], pattern)
