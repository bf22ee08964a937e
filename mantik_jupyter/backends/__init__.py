"""The backend interface: one class per gateway kind, registered by entry point.

A backend submits a staged bundle as a job, reports the state of many runs in one call,
cancels, reads the job log from a byte offset, and lists and downloads the job's files.
Its class describes the kind: the keys of its site profiles, its authentication methods
and its :class:`Capabilities`; the site catalog, the ``sites`` command line, the lab's
site form and submit validation read them from there. A new kind of site needs one new
module and an entry point in the group ``mantik_jupyter.backends``, nothing else.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .. import registry
from ..bundle import Bundle
from ..errors import ConfigError
from ..jobscript import POINTS_DIR, TaskState
from ..progress import NO_PROGRESS, Progress
from ..spec import RunSpec
from ..states import RunState
from ..store import Run

if TYPE_CHECKING:
    from ..sites import Site

LOG_FILE = "mantik-job.log"
#: How long a cancel waits for the site to report the job ended.
CANCEL_WAIT = 15.0
#: The config's commands meant for the site's login node (outside the job).
LOGIN_NODE_KEYS = ("PreRunCommandOnLoginNode", "PostRunCommandOnLoginNode")
#: The native state of a job its site does not list (an UNKNOWN status): the engine keeps a
#: just-submitted run's state over it for a while (``reconciling.LISTING_GRACE``).
GONE = "GONE"
#: The native state the engine records for a job it has just handed to its site, until the
#: site first reports on it.
SUBMITTED = "SUBMITTED"


@dataclass(frozen=True)
class Capabilities:
    """What a backend kind can do; the engine and every face ask these, never the kind."""

    #: which of :data:`LOGIN_NODE_KEYS` the site runs (on its login node); others are refused
    login_node_commands: frozenset[str] = frozenset()
    #: a job can wait on the site until a given time (``sbatch --begin``)
    deferred_start: bool = False
    #: many runs can go as one job array
    job_arrays: bool = False
    #: the most tasks one array may have (a site profile's ``max_array_size`` may lower it)
    max_array_size: int = 1001
    #: jobs can track to a file store in their run directory (compute nodes offline)
    offline_tracking: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "login_node_commands": sorted(self.login_node_commands)}


@dataclass(frozen=True)
class JobRequest:
    """Everything a backend needs to start one run's job."""

    run_id: str
    name: str
    bundle: Bundle
    spec: RunSpec
    env: dict[str, str] = field(default_factory=dict)
    #: Secrets the job needs (MLflow credentials): never in a job description, script or
    #: log; remote backends deliver them as an owner-only file in the job directory.
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    #: Where the upload reports its bytes and files (a cancel raises from it).
    progress: Progress = field(default=NO_PROGRESS, repr=False, compare=False)
    #: the command to run instead of the bundle's (a sweep's task selection)
    command: str | None = None
    #: Slurm's ``--array`` value (``0-11%2``) when the job is a sweep's job array; its
    #: tasks share the job directory (the bundle is restored once, secrets kept for all)
    array: str | None = None
    #: the job waits on the site until this time (backends with ``deferred_start``)
    begin: datetime | None = None

    @property
    def main_command(self) -> str:
        return self.command or self.bundle.command


@dataclass(frozen=True)
class ArraySubmission:
    """What a backend reports after starting a job array: the array's job and, per task
    (in task order), the id and directory its point run is found by."""

    submission: Submission
    task_ids: list[str]
    task_dirs: list[str]


@dataclass(frozen=True)
class Submission:
    """What a backend reports back after starting a job."""

    remote_job_id: str
    work_dir: str
    script: str
    bytes_uploaded: int = 0


@dataclass(frozen=True)
class JobStatus:
    """A job's state as the gateway sees it, normalised, with the native state kept."""

    state: RunState
    native_state: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    started_at: str | None = None
    ended_at: str | None = None


@dataclass(frozen=True)
class FileEntry:
    """One file or folder of a run's working directory."""

    path: str
    is_dir: bool
    size: int
    modified: str | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "is_dir": self.is_dir, "size": self.size,
                "modified": self.modified}


class Backend(ABC):
    """One gateway kind. Instances are per site and may keep connections."""

    #: the ``kind`` of site profiles this backend serves (its entry point's name)
    kind: ClassVar[str]
    #: the kind in words (help texts, messages)
    title: ClassVar[str]
    #: the profile keys of this kind beside the common ones (JSON schema with a
    #: description each); None: users add no profiles of this kind
    profile_properties: ClassVar[Mapping[str, Mapping[str, Any]] | None] = None
    profile_required: ClassVar[tuple[str, ...]] = ()
    #: how a site of this kind may authenticate, the default first; () needs no secret
    auth_methods: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, site: Site, home: Path):
        self.site = site
        self.home = home

    def validate(self, spec: RunSpec) -> None:
        """Refuse a spec this site cannot run, before anything is staged or sent.

        Subclasses add their own checks after this one's (what the capabilities rule out).
        """
        allowed = self.capabilities.login_node_commands
        for key in LOGIN_NODE_KEYS:
            if key in spec.environment and key not in allowed:
                runs = (f"run only {' and '.join(sorted(allowed))} on a login node" if allowed
                        else "run nothing on a login node")
                instead = key.replace("LoginNode", "ComputeNode")
                raise ConfigError(f"Environment.{key}: {self.title} sites {runs}; move the "
                                  f"command into {instead}", key=f"Environment.{key}")

    @abstractmethod
    def check(self) -> str:
        """Check that the site answers and the credentials work, without submitting.

        Returns a one-line description; raises a MantikError that says what failed.
        """

    @abstractmethod
    def submit(self, job: JobRequest) -> Submission:
        """Start the job; the run id must be findable on the site afterwards."""

    @abstractmethod
    def find(self, run: Run) -> Submission | None:
        """The job an interrupted submission of ``run`` started, looked up on the site by the
        run's identity; None if no job was started (what the attempt left there is removed).

        Called only once no live process is submitting the run; it never submits.
        """

    @abstractmethod
    def status(self, runs: list[Run]) -> dict[str, JobStatus]:
        """States of many runs at once, keyed by run id (missing: unknown to the site)."""

    @abstractmethod
    def cancel(self, run: Run) -> None:
        """End the run's job and everything it started."""

    def submit_array(self, job: JobRequest, points: list[int]) -> ArraySubmission:
        """Start a sweep's job array (``job.array`` set); task k runs point ``points[k]``.

        Only kinds whose capabilities say ``job_arrays`` are asked."""
        raise ConfigError(f"{self.title} sites take no job arrays", key="Sweep")

    def cancel_points(self, runs: list[Run]) -> None:
        """End several point runs of a sweep (their arrays where all go; default: each)."""
        for run in runs:
            self.cancel(run)

    def point_dir(self, work_dir: str, point: int) -> str:
        """Where a sweep point's executed notebook and log are (its run's ``work_dir``)."""
        return f"{work_dir}/{POINTS_DIR}/{point}"

    def array_submission(self, submission: Submission, points: list[int]) -> ArraySubmission:
        """What the tasks of a started array are found by: task k's (point ``points[k]``)
        id and folder, in task order."""
        return ArraySubmission(submission, self.task_ids(submission, len(points)),
                               [self.point_dir(submission.work_dir, p) for p in points])

    def task_ids(self, submission: Submission, count: int) -> list[str]:
        """The ids the tasks of a started array are known by, in task order (here the whole
        job's, for a gateway that knows only the job)."""
        return [submission.remote_job_id] * count

    def max_array_size(self) -> int:
        """The largest array this site takes (its profile's ``max_array_size``, else the
        kind's)."""
        value = self.site.settings.get("max_array_size")
        return int(value) if value else self.capabilities.max_array_size

    @abstractmethod
    def read_log(self, run: Run, offset: int, limit: int | None = None) -> bytes:
        """Exactly the log bytes from ``offset`` (at most ``limit``); empty at the end."""

    @abstractmethod
    def list_files(self, run: Run, path: str = "") -> list[FileEntry]:
        """The entries of a folder of the run's working directory."""

    @abstractmethod
    def download(self, run: Run, path: str, dest: Path, progress: Progress = NO_PROGRESS
                 ) -> Path:
        """Copy a file or folder of the working directory to ``dest``; returns the copy.
        Each file done is reported to ``progress`` (bytes and one file)."""

    @abstractmethod
    def delete(self, run: Run) -> None:
        """Remove the run's working directory on the site."""


def backend_class(kind: str) -> type[Backend]:
    """The backend class registered for ``kind`` under the entry-point group."""
    try:
        return registry.load(registry.BACKENDS, kind)
    except KeyError:
        known = ", ".join(sorted(registry.names(registry.BACKENDS))) or "none"
        raise ConfigError(f"no backend for site kind {kind!r}; installed: {known}",
                          key="kind") from None


def installed() -> dict[str, type[Backend]]:
    """Every installed backend class by kind (one that fails to import is left out)."""
    return registry.load_all(registry.BACKENDS)


def all_ended(statuses: Mapping[str, JobStatus]) -> JobStatus:
    """One status for many jobs' (a cancel loop's): ended once every one has."""
    ended = all(status.state.terminal for status in statuses.values())
    return JobStatus(RunState.CANCELLED if ended else RunState.RUNNING)


def task_status(job: JobStatus, tasks: dict[int, TaskState], point: int) -> JobStatus:
    """A sweep point's state from its whole job's and its task's state files (see
    :data:`~mantik_jupyter.jobscript.TASK_STATE_DIR`), where the gateway knows only the job."""
    task = tasks.get(point)
    if task and task.code is not None:
        times = {"started_at": task.started_at, "ended_at": task.ended_at}
        if task.code == 0:
            return JobStatus(RunState.COMPLETED, "COMPLETED", None, 0, **times)
        return JobStatus(RunState.FAILED, "FAILED", f"exit code {task.code}", task.code, **times)
    if not job.state.terminal:
        if task:
            return JobStatus(RunState.RUNNING, "RUNNING", started_at=task.started_at)
        return JobStatus(RunState.QUEUED, job.native_state)
    if job.state == RunState.CANCELLED:
        return JobStatus(RunState.CANCELLED, job.native_state, job.reason,
                         started_at=task.started_at if task else None)
    return JobStatus(RunState.FAILED, job.native_state,
                     "the task ended without noting its exit code"
                     + (f" ({job.reason})" if job.reason else ""))


def wait_terminal(status: Callable[[], JobStatus], timeout: float = CANCEL_WAIT,
                  pause: float = 0.3) -> bool:
    """Ask ``status`` until the job has ended or ``timeout`` seconds passed; True if ended.

    A cancel returns once the site agrees, so the next look at the run finds it ended.
    """
    deadline = time.monotonic() + timeout
    while not status().state.terminal:
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
    return True
