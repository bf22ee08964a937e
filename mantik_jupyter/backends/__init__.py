"""The backend interface: one class per gateway kind, registered by entry point.

A backend submits a staged bundle as a job, reports the state of many runs in one call,
cancels, reads the job log from a byte offset, and lists and downloads the job's files.
A new kind of site needs one new module and an entry point in the group
``mantik_jupyter.backends``, nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

from ..bundle import Bundle
from ..errors import ConfigError
from ..sites import Site
from ..spec import RunSpec
from ..states import RunState
from ..store import Run

ENTRY_POINT_GROUP = "mantik_jupyter.backends"
LOG_FILE = "mantik-job.log"


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

    kind: ClassVar[str]

    def __init__(self, site: Site, home: Path):
        self.site = site
        self.home = home

    def validate(self, spec: RunSpec) -> None:  # noqa: B027 - optional hook
        """Refuse a spec this site cannot run, before anything is staged or sent."""

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

    @abstractmethod
    def read_log(self, run: Run, offset: int, limit: int | None = None) -> bytes:
        """Exactly the log bytes from ``offset`` (at most ``limit``); empty at the end."""

    @abstractmethod
    def list_files(self, run: Run, path: str = "") -> list[FileEntry]:
        """The entries of a folder of the run's working directory."""

    @abstractmethod
    def download(self, run: Run, path: str, dest: Path) -> Path:
        """Copy a file or folder of the working directory to ``dest``; returns the copy."""

    @abstractmethod
    def delete(self, run: Run) -> None:
        """Remove the run's working directory on the site."""


def backend_class(kind: str) -> type[Backend]:
    """The backend class registered for ``kind`` under the entry-point group."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    for ep in found:
        if ep.name == kind:
            return ep.load()
    known = ", ".join(sorted(ep.name for ep in found)) or "none"
    raise ConfigError(f"no backend for site kind {kind!r}; installed: {known}", key="kind")
