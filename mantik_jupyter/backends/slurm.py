"""The ``slurm`` backend: Slurm's own commands, on this machine or on a login node over SSH.

Where JupyterLab runs on a login node (Jupyter-JSC, most university clusters) ``sbatch``
is right here (transport ``local``); a cluster with only SSH is reached from a laptop with
transport ``ssh`` (see :mod:`.transports`). A run is one job named ``mantik-<run id>`` in
``<work root>/mantik-runs/<run id>``, submitted with ``sbatch --parsable``; the upload cache
is ``<work root>/.mantik-cache``. One command line per poll asks ``squeue`` and ``sacct``
about every active run of the site; a cluster without accounting answers through
``squeue`` and the job-completion log. ``PreRunCommandOnLoginNode`` runs where these
commands run, in the run directory, before ``sbatch``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..downloads import Spool
from ..errors import BackendError, MantikError, NotFoundError
from ..progress import NO_PROGRESS, Progress
from ..spec import RunSpec
from ..states import RunState
from ..store import Run
from . import (
    GONE,
    LOG_FILE,
    Capabilities,
    FileEntry,
    JobRequest,
    JobStatus,
    Submission,
    all_ended,
    slurm_jobs,
    wait_terminal,
)
from .remote import SCRIPT, Failure, PathFiles, RemoteBackend, job_name, relative_path
from .slurm_jobs import JOB_ID_FILE, SlurmJob
from .transports import Lost, Result, Transport, command, transport

log = logging.getLogger(__name__)

#: A profile value that is one word (a host, a user, a path): no spaces, no control characters.
WORD = r"^\S+$(?!\n)"
#: ``sbatch`` options of every run: the job's own output joins its log; a job that failed
#: is never started again by Slurm behind the engine's back.
SBATCH = ("sbatch", "--parsable", "--no-requeue", f"--output={LOG_FILE}", "--open-mode=append")


class CommandFailed(Exception):
    """A Slurm or file command exited non-zero (its own message kept)."""

    def __init__(self, result: Result):
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        super().__init__("; ".join(lines[-3:]) or f"exit code {result.code}")
        self.result = result


class SlurmBackend(PathFiles, RemoteBackend):
    """Runs jobs with sbatch/squeue/sacct/scancel over a :class:`~.transports.Transport`."""

    kind = "slurm"
    title = gateway = "Slurm"
    profile_properties = {
        "transport": {"enum": ["local", "ssh"], "description": (
            "where Slurm's commands run: local (Jupyter runs on a login node) or ssh "
            "(default: local)")},
        "host": {"type": "string", "pattern": WORD, "description": (
            "login node for transport ssh: a host name or an alias of ~/.ssh/config")},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                 "description": "SSH port (default: from ~/.ssh/config, else 22)"},
        "user": {"type": "string", "pattern": WORD,
                 "description": "SSH user (default: from ~/.ssh/config, else yours)"},
        "key_file": {"type": "string", "pattern": WORD, "description": (
            "SSH private key (default: ~/.ssh/config's IdentityFile, the ssh-agent, ~/.ssh/id_*)")},
        "known_hosts": {"type": "string", "pattern": WORD, "description": (
            "known_hosts file the host keys are checked against (default: ~/.ssh/known_hosts)")},
        "proxy_jump": {"type": "string", "pattern": WORD, "description": (
            "jump host(s) on the way, [user@]host[:port], comma-separated (as ssh -J)")},
        "work_root": {"type": "string", "pattern": r"^(/|~/)\S*$(?!\n)", "description": (
            "folder for run directories and the upload cache, seen by the compute nodes "
            "(default: ~/mantik)")},
        "offline_tracking": RemoteBackend.profile_properties["offline_tracking"],
    }
    profile_required = ()
    auth_methods = ()  # SSH logs in with the user's own keys or agent; mantik holds no secret
    capabilities = Capabilities(login_node_commands=frozenset({"PreRunCommandOnLoginNode"}),
                                deferred_start=True, job_arrays=True,
                                offline_tracking=True)

    def __init__(self, site: Any, home: Path):
        super().__init__(site, home)
        self._transport: Transport | None = None
        self._root: str | None = None
        self._cache_ready = False

    @property
    def transport(self) -> Transport:
        """The site's transport, made on first use and kept (one SSH connection per site)."""
        if self._transport is None:
            self._transport = transport(self.site.name, self.settings)
        return self._transport

    def secret(self) -> str:
        """No secret: keys stay in the user's ``~/.ssh`` and agent."""
        return ""

    def classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, Lost):
            return Failure(str(exc), None, transient=True)
        if isinstance(exc, CommandFailed):
            return Failure(str(exc))
        if isinstance(exc, FileNotFoundError):
            return Failure(f"no such file {exc.filename or ''}".strip(), 404)
        if isinstance(exc, PermissionError):
            return Failure(f"permission denied: {exc.filename or exc}")
        return None

    def shell(self, what: str, line: str, **kwargs: Any) -> str:
        """Run a command line with retries of a lost connection; its output."""
        def once() -> str:
            result = self.transport.run(line)
            if result.code != 0:
                raise CommandFailed(result)
            return result.stdout
        return self.call(what, once, **kwargs)

    def probe(self) -> str:
        version = self.shell("asking Slurm's version", "sinfo --version").strip()
        return f"{version} on {self.transport.where}, runs in {self.root}"

    @property
    def root(self) -> str:
        """The folder runs and the upload cache live in (``~`` resolved on the cluster)."""
        if self._root is None:
            configured = self.settings.get("work_root", "~/mantik").rstrip("/")
            if configured.startswith("~"):
                home = self.shell("finding the home folder", 'printf %s "$HOME"').strip()
                configured = home + configured[1:]
            self._root = configured
        return self._root

    def workspace(self, run_id: str) -> str:
        """The run's working directory on the cluster (named by the run id)."""
        return f"{self.root}/mantik-runs/{run_id}"

    # ------------------------------------------------------------------ upload cache
    def cache_dir(self) -> str:
        path = f"{self.root}/.mantik-cache"
        if not self._cache_ready:
            self.shell("creating the upload cache", command("mkdir", "-p", "--", path))
            self._cache_ready = True
        return path

    def cached(self) -> dict[str, int]:
        entries = self.call("listing the upload cache", self.transport.listdir,
                            self.cache_dir())
        return {e.name: e.size for e in entries if not e.is_dir}

    def put_blob(self, sha: str, local: Path, size: int, progress: Progress = NO_PROGRESS
                 ) -> None:
        self.call(f"uploading {local.name} ({size} bytes) to the upload cache",
                  self.transport.put, local, f"{self.cache_dir()}/{sha}")
        progress.advance(size)  # SFTP and a local copy report no bytes on the way

    # ------------------------------------------------------------------ submit
    def script_directives(self, job: JobRequest, spec: RunSpec) -> list[str]:
        return slurm_jobs.job_directives(spec, job)

    def started_lines(self) -> list[str]:
        return [slurm_jobs.NOTE_JOB_ID]

    def open_workspace(self, job: JobRequest, spec: RunSpec) -> str:
        path = self.workspace(job.run_id)
        self.shell("creating the run directory", command("mkdir", "-p", "-m", "700", "--", path))
        return path

    def put_file(self, workspace: str, name: str, data: bytes) -> None:
        self.call(f"writing {name}", self.transport.write, f"{workspace}/{name}", data)

    def launch(self, workspace: str, job: JobRequest, spec: RunSpec, script: str) -> Submission:
        pre = spec.environment.get("PreRunCommandOnLoginNode")
        if pre:
            self.login_node_command(workspace, pre)

        def recover() -> str | None:  # the job a lost reply would have named
            found = self._job_of(job.run_id)  # an array's: one of its tasks, 123_4
            return found.job_id.partition("_")[0] if found else None

        # the job's log is made by Slurm with sbatch's umask: owner-only, as the rest
        line = command("cd", workspace) + " && umask 077 && " + command(*SBATCH, SCRIPT)
        out = self.call("submitting the job", self._sbatch, line, recover=recover)
        return Submission(out, workspace, script)

    def _sbatch(self, line: str) -> str:
        result = self.transport.run(line)
        if result.code != 0:
            raise CommandFailed(result)
        job_id = result.stdout.strip().split(";")[0]  # ``ID`` or ``ID;CLUSTER``
        if not job_id.isdigit():
            raise CommandFailed(Result(1, "", f"sbatch answered {result.stdout.strip()!r}"))
        return job_id

    def login_node_command(self, workspace: str, text: str) -> None:
        """Run ``PreRunCommandOnLoginNode`` in the run directory; its output starts the
        job's log; a non-zero exit fails the submission (and nothing is left)."""
        line = command("cd", workspace) + " && " + command("bash", "-c", text) + " 2>&1"
        result = self.call("running PreRunCommandOnLoginNode", self.transport.run, line)
        self.put_file(workspace, LOG_FILE, result.stdout.encode())
        if result.code != 0:
            last = [ln for ln in result.stdout.splitlines() if ln.strip()][-1:]
            raise BackendError(
                f"site {self.site.name!r}: Environment.PreRunCommandOnLoginNode failed with "
                f"exit code {result.code}" + (f": {last[0].strip()}" if last else ""))

    def _jobs(self, what: str, job_ids: tuple[str, ...] = (), name: str | None = None,
              ) -> dict[str, SlurmJob]:
        return slurm_jobs.parse_query(
            self.shell(what, slurm_jobs.query_command(job_ids, name)))

    def _job_of(self, run_id: str) -> SlurmJob | None:
        """The run's job, if Slurm still knows it (queue or accounting)."""
        jobs = self._jobs("looking for the job", name=job_name(run_id))
        return slurm_jobs.run_job(jobs.values(), run_id, self.workspace(run_id))

    def find(self, run: Run) -> Submission | None:
        """The job by its name and directory, or by the id it noted there when it started;
        without either, the run directory (the attempt's upload) is removed."""
        workspace = self.workspace(run.id)
        job = self._job_of(run.id)
        job_id = job.job_id.partition("_")[0] if job else self._noted_job_id(workspace)
        if not job_id:
            self.shell("removing the run directory", command("rm", "-rf", "--", workspace))
            return None
        try:
            script = self.call("reading the job's script", self.transport.read,
                               f"{workspace}/{SCRIPT}", 0).decode(errors="replace")
        except NotFoundError:
            script = ""
        return Submission(job_id, workspace, script)

    def _noted_job_id(self, workspace: str) -> str | None:
        try:
            noted = self.call("reading the job id", self.transport.read,
                              f"{workspace}/{JOB_ID_FILE}", 0, 64)
        except NotFoundError:
            return None
        return slurm_jobs.noted_job_id(noted.decode(errors="replace"))

    def discard(self, workspace: str) -> None:
        try:
            self.shell("removing the run directory", command("rm", "-rf", "--", workspace))
        except MantikError as exc:
            log.warning("could not remove %s: %s", workspace, exc.message)

    # ------------------------------------------------------------------ status
    def status(self, runs: list[Run]) -> dict[str, JobStatus]:
        # a sweep's points are its array's tasks (123_4): asked for by the array's id, the
        # pending rest of which Slurm names 123_[5-9%2]
        arrays = tuple(slurm_jobs.array_ids(runs))
        if not arrays:
            return {}
        jobs = slurm_jobs.split_tasks(self._jobs("listing jobs", arrays))
        gone = JobStatus(RunState.UNKNOWN, GONE, "the job is not known to Slurm any more")
        return {run.id: jobs[run.remote_job_id].status if run.remote_job_id in jobs else gone
                for run in runs if run.remote_job_id}

    def cancel(self, run: Run) -> None:
        self.shell("cancelling the job", command("scancel", run.remote_job_id))
        wait_terminal(lambda: self.status([run])[run.id])

    def cancel_points(self, runs: list[Run]) -> None:
        """``scancel`` a sweep's arrays at once (their tasks all end), then wait for them."""
        arrays = slurm_jobs.array_ids(runs)
        self.shell("cancelling the job arrays", command("scancel", *arrays))
        wait_terminal(lambda: all_ended(self.status(runs)))

    # ------------------------------------------------------------------ files
    def read_log(self, run: Run, offset: int, limit: int | None = None) -> bytes:
        try:
            return self.call("reading the log", self.transport.read,
                             self._path(run, LOG_FILE), offset, limit)
        except NotFoundError:
            return b""

    def list_files(self, run: Run, path: str = "") -> list[FileEntry]:
        rel = relative_path(path)
        entries = self.call("listing files", self.transport.listdir, self._path(run, rel))
        return [FileEntry(f"{rel}/{e.name}" if rel else e.name, e.is_dir, e.size, e.modified)
                for e in sorted(entries, key=lambda e: e.name)
                if not e.name.startswith(".mantik")]

    def examine(self, source: str) -> tuple[bool, int]:
        entry = self.call("reading file properties", self.transport.stat, source)
        return entry.is_dir, entry.size

    def fetch_file(self, what: str, source: str, spool: Spool) -> None:
        self.call(what, self.transport.get, source, spool.temp)  # streamed by the transport
        spool.adopt()

    def delete(self, run: Run) -> None:
        if run.work_dir:
            self.shell("removing the run directory", command("rm", "-rf", "--", run.work_dir))

