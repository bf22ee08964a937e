"""The ``unicore`` backend: JUWELS, JURECA-DC and JUSUF at JSC through UNICORE REST (pyunicore).

A run is one UNICORE job tagged with the run id, created with client stage-in (so it
waits while the bundle arrives) and then started. Its working directory is the job's
storage; ``work_dir`` holds that storage's URL, ``remote_job_id`` the job's URL. The
upload cache is the working directory of one never-started job tagged
``mantik-upload-cache``. Status costs one request per active run at most, and fewer while
a run waits in the queue (its interval doubles up to a limit).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from ..downloads import CHUNK, Spool, expect
from ..errors import BackendError, ConflictError, CredentialsError, MantikError, NotFoundError
from ..jobscript import POINTS_DIR, TASK_STATE_DIR, task_states, unicore_resources
from ..progress import NO_PROGRESS, Progress, reader
from ..spec import RunSpec
from ..states import RunState
from ..store import Run
from . import (
    GONE,
    LOG_FILE,
    FileEntry,
    JobRequest,
    JobStatus,
    Submission,
    all_ended,
    slurm_jobs,
    task_status,
    wait_terminal,
)
from .remote import CACHE_TAG, SCRIPT, Failure, RemoteBackend, job_name, relative_path

log = logging.getLogger(__name__)

_STATUS_ERROR = re.compile(r"^(\d{3}) Server Error: (.*?)(?: for url: .*)?$", re.DOTALL)
QUEUED_STATES = frozenset({"READY", "STAGINGIN", "QUEUED"})
#: What UNICORE/X logs when it holds a started job until its "Not before" time.
HELD = "Further processing scheduled for "
RUNNING_STATES = frozenset({"RUNNING", "STAGINGOUT"})
FAST_POLL = 1.0
SLOW_POLL = 15.0
TIMEOUT = 60


class UnicoreBackend(RemoteBackend):
    """Runs jobs through a UNICORE/X server's REST API."""

    kind = "unicore"
    title = gateway = "UNICORE"
    profile_properties = {
        **RemoteBackend.profile_properties,
        "url": {**RemoteBackend.profile_properties["url"],
                "description": "REST base of the site (https://HOST/SITE/rest/core)"},
        "username": {"type": "string", "minLength": 1,
                     "description": "login name for password authentication"},
    }
    auth_methods = ("password", "token")
    # The pre-command runs as UNICORE's user pre-command on the login node; there is no post.
    # A deferred start is UNICORE's "Not before": the server holds the job until then.
    capabilities = replace(RemoteBackend.capabilities,
                           login_node_commands=frozenset({"PreRunCommandOnLoginNode"}),
                           deferred_start=True)

    def __init__(self, site: Any, home: Path):
        super().__init__(site, home)
        self._transport: Any = None
        self._cache: tuple[str, str] | None = None  # (storage URL, mount point)
        self._polls: dict[str, tuple[float, float]] = {}  # run id -> (next poll, interval)

    @property
    def url(self) -> str:
        return self.settings["url"].rstrip("/")

    # ------------------------------------------------------------------ connection
    def transport(self) -> Any:
        """pyunicore's Transport with the site's credential (built on first use)."""
        if self._transport is None:
            from pyunicore.client import Transport

            self._transport = Transport(self._credential(),
                                        verify=self.settings.get("verify_tls", True),
                                        timeout=TIMEOUT)
        return self._transport

    def _credential(self) -> Any:
        from pyunicore import credentials as uc

        secret = self.secret()
        if self.site.auth == "token":
            return uc.OIDCToken(secret)
        username = self.settings.get("username")
        if not username:
            raise CredentialsError(
                f"site {self.site.name!r} logs in with a password but names no username; "
                f"add your profile: mantik-jupyter sites add NAME --base {self.site.name} "
                "--username YOU", key="credentials")
        return uc.UsernamePassword(username, secret)

    def reauthenticate(self) -> bool:
        self._transport = None
        return True

    def classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, httpx.TransportError):
            return Failure(str(exc) or type(exc).__name__, None, transient=True)
        if isinstance(exc, httpx.HTTPError):
            match = _STATUS_ERROR.match(str(exc))
            if match:
                status = int(match.group(1))
                return Failure(match.group(2), status, status >= 500 or status in (408, 429))
            return Failure(str(exc))
        return None

    def _get(self, what: str, url: str, **kwargs: Any) -> Any:
        return self.call(what, self.transport().get, url=url, **kwargs)

    def _post(self, what: str, url: str, body: dict, **kwargs: Any) -> httpx.Response:
        def post() -> httpx.Response:
            with closing(self.transport().post(url=url, json=body)) as resp:
                return resp

        return self.call(what, post, **kwargs)

    def _delete(self, what: str, url: str) -> None:
        self.call(what, lambda: self.transport().delete(url=url).close())

    def probe(self) -> str:
        root = self._get("reading the site's root document", self.url)
        client = root.get("client", {})
        role = client.get("role", {}).get("selected")
        if role == "anonymous":
            raise CredentialsError(
                f"site {self.site.name!r}: UNICORE answered but did not accept the credentials "
                f"from {self.site.credential_ref.describe()} (role anonymous)", key="credentials")
        version = root.get("server", {}).get("version", "?")
        user = client.get("xlogin", {}).get("UID", "?")
        return f"UNICORE {version} at {self.url} as {user} (role {role})"

    # ------------------------------------------------------------------ jobs
    def _jobs_tagged(self, tag: str) -> list[str]:
        return self._get("listing jobs", f"{self.url}/jobs", params={"tags": tag})["jobs"]

    def _create_job(self, description: dict, tag: str) -> str:
        """POST a job description once: a lost reply is recovered by looking up the tag."""
        def find() -> str | None:
            found = self._jobs_tagged(tag)
            return found[0] if found else None

        resp = self._post("creating the job", f"{self.url}/jobs", description,
                          recover=find)
        return resp if isinstance(resp, str) else resp.headers["Location"]

    def _storage(self, job_url: str) -> str:
        props = self._get("reading the job", job_url)
        return props["_links"]["workingDirectory"]["href"]

    # ------------------------------------------------------------------ upload cache
    def cache_dir(self) -> str:
        if self._cache is None:
            found = self._jobs_tagged(CACHE_TAG)
            job_url = found[0] if found else self._create_job(
                {"Name": CACHE_TAG, "Tags": [CACHE_TAG], "Executable": "/bin/true",
                 "haveClientStageIn": "true"}, CACHE_TAG)
            storage = self._storage(job_url)
            self._check_private(storage, "the upload cache")
            mount = self._get("reading the upload cache", storage)["mountPoint"]
            self._cache = (storage, mount)
        return self._cache[1]

    def cached(self) -> dict[str, int]:
        listing = self._get("listing the upload cache", f"{self._storage_of_cache()}/files/")
        return {PurePosixPath(name).name: int(meta.get("size", -1))
                for name, meta in listing.get("content", {}).items()
                if not meta.get("isDirectory")}

    def _storage_of_cache(self) -> str:
        self.cache_dir()
        return self._cache[0]

    def put_blob(self, sha: str, local: Path, size: int, progress: Progress = NO_PROGRESS
                 ) -> None:
        chunks = reader(local, progress)  # streamed: a large file is never read whole
        self._put(f"{self._storage_of_cache()}/files/{sha}", chunks, size)

    def _put(self, url: str, data: bytes | Callable[[], Iterator[bytes]],
             size: int | None = None) -> None:
        """PUT bytes, or a fresh chunk iterator per attempt of ``size`` bytes."""
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        self.call("uploading", lambda: self.transport().put(
            url=url, headers=headers, content=data if isinstance(data, bytes) else data()
        ).close())

    # ------------------------------------------------------------------ submit
    def script_directives(self, job: JobRequest, spec: RunSpec) -> list[str]:
        # an array goes as a raw job: its script is the batch script, sent verbatim
        return slurm_jobs.directives(spec, job.run_id, job.array) if job.array else []

    def task_ids(self, submission: Submission, count: int) -> list[str]:
        return [submission.remote_job_id] * count  # UNICORE knows the array as one job

    def point_dir(self, work_dir: str, point: int) -> str:
        return f"{work_dir}/files/{POINTS_DIR}/{point}"

    def open_workspace(self, job: JobRequest, spec: RunSpec) -> tuple[str, str]:
        tag = job_name(job.run_id)
        description: dict[str, Any] = {
            "Name": tag, "Tags": [tag, "mantik"], "Executable": "/bin/bash",
            "Arguments": [SCRIPT], "haveClientStageIn": "true",
        }
        if job.array:  # UNICORE's array resources are broken in current TSIs; a raw job's
            # batch script is submitted as it is, so its #SBATCH --array line is honoured
            description = {"Name": tag, "Tags": [tag, "mantik"], "Job type": "raw",
                           "BSS file": SCRIPT, "haveClientStageIn": "true"}
        resources = unicore_resources(spec)
        if resources:
            description["Resources"] = resources
        if "Project" in spec.resources:
            description["Project"] = str(spec.resources["Project"])
        if job.begin:
            description["Not before"] = not_before(job.begin)
        login_pre = spec.environment.get("PreRunCommandOnLoginNode")
        if login_pre:
            description["User precommand"] = login_pre
            description["RunUserPrecommandOnLoginNode"] = "true"
        job_url = self._create_job(description, tag)
        try:
            storage = self._storage(job_url)
            self._check_private(storage, "the job directory")
            return job_url, storage
        except BaseException:
            self.discard((job_url, ""))
            raise

    def _check_private(self, storage: str, what: str) -> None:
        """A job directory is made by UNICORE with the site's umask: refuse to upload into
        one that others may enter or read."""
        mode = str(self._get(f"checking who may read {what}", f"{storage}/files/")
                   .get("permissions", ""))
        if len(mode) != 9 or mode[3:] != "------":
            shown = mode or "its permissions are not shown"
            raise BackendError(
                f"site {self.site.name!r}: {what} is open to others ({shown}); nothing is "
                "uploaded into it. Ask the site to make job directories owner-only "
                "(UNICORE/X umask 077)")

    def put_file(self, workspace: tuple[str, str], name: str, data: bytes) -> None:
        self._put(f"{workspace[1]}/files/{name}", data)

    def launch(self, workspace: tuple[str, str], job: JobRequest, spec: RunSpec,
               script: str) -> Submission:
        job_url, storage = workspace
        self._post("starting the job", f"{job_url}/actions/start", {})
        props = self._get("reading the job", job_url)
        if props.get("status") == "FAILED":  # the batch system refused it at once
            message = props.get("statusMessage") or "; ".join(props.get("log", [])[-2:])
            raise self.error("submitting the job", Failure(message))
        return Submission(job_url, storage, script)

    def discard(self, workspace: tuple[str, str]) -> None:
        try:
            self._delete("removing the failed job", workspace[0])
        except MantikError as exc:
            log.warning("could not remove job %s: %s", workspace[0], exc.message)

    def find(self, run: Run) -> Submission | None:
        """The started job tagged with the run id; a tagged job never started (READY: the
        attempt died while uploading) is removed with its files."""
        found = None
        for job_url in self._jobs_tagged(job_name(run.id)):
            props = self._get("reading the job", job_url)
            if props.get("status") == "READY" and held_until(props) is None:
                self.discard((job_url, ""))
            elif found is None:
                found = job_url, props["_links"]["workingDirectory"]["href"]
            else:
                log.warning("run %s: more than one job on site %s; following %s, not %s",
                            run.id, self.site.name, found[0], job_url)
        if found is None:
            return None
        job_url, storage = found
        script = self._read(replace(run, work_dir=storage), SCRIPT).decode()
        return Submission(job_url, storage, script)

    # ------------------------------------------------------------------ status
    def status(self, runs: list[Run]) -> dict[str, JobStatus]:
        arrays: dict[str, list[Run]] = {}
        for run in runs:
            if run.point is not None and run.remote_job_id:
                arrays.setdefault(run.remote_job_id, []).append(run)
        result: dict[str, JobStatus] = {}
        for job_url, points in arrays.items():
            result.update(self._array_status(job_url, points))
        now = time.monotonic()
        for run in runs:
            if run.point is not None:
                continue
            due, interval = self._polls.get(run.id, (0.0, 0.0))
            if now < due or not run.remote_job_id:
                continue
            try:
                props = self._get("reading the job", run.remote_job_id)
            except NotFoundError:
                result[run.id] = JobStatus(RunState.UNKNOWN, GONE,
                                           "the job no longer exists on the site")
                continue
            status = job_status(props)
            if status.state.value == run.state and status.state == RunState.QUEUED:
                interval = min(max(interval * 2, FAST_POLL), SLOW_POLL)
            else:
                interval = FAST_POLL
            self._polls[run.id] = (time.monotonic() + interval, interval)
            result[run.id] = status
        return result

    def _array_status(self, job_url: str, points: list[Run]) -> dict[str, JobStatus]:
        """Every point of one array job: the job's state (one request) and the tasks' own
        state files (one listing), as all tasks share UNICORE's exit code."""
        try:
            job = job_status(self._get("reading the job", job_url))
        except NotFoundError:
            return {run.id: JobStatus(RunState.UNKNOWN, GONE,
                                      "the job no longer exists on the site") for run in points}
        storage = (points[0].work_dir or "").partition("/files/")[0]
        try:
            listing = self._get("listing the task states", f"{storage}/files/{TASK_STATE_DIR}",
                                headers={"Accept": "application/json"}).get("content", {})
        except NotFoundError:  # no task started yet
            listing = {}
        tasks = task_states((name.strip("/"), _listed_time(entry.get("lastAccessed")))
                            for name, entry in listing.items())
        return {run.id: task_status(job, tasks, run.point) for run in points}

    def cancel_points(self, runs: list[Run]) -> None:
        """Abort each array job once; every task of it ends."""
        jobs = sorted({run.remote_job_id for run in runs if run.remote_job_id})
        for job_url in jobs:
            self._post("aborting the job", f"{job_url}/actions/abort", {})
        wait_terminal(lambda: all_ended(self.status(runs)))

    def cancel(self, run: Run) -> None:
        if run.point is not None:
            raise ConflictError(f"run {run.id} is one task of a UNICORE job array, which "
                                "UNICORE cancels only as a whole; cancel the sweep "
                                f"{run.sweep_id}", key="run")
        self._post("aborting the job", f"{run.remote_job_id}/actions/abort", {})
        self._polls.pop(run.id, None)
        wait_terminal(lambda: job_status(self._get("reading the job", run.remote_job_id)))

    # ------------------------------------------------------------------ files
    def _file_url(self, run: Run, path: str) -> str:
        # a point's work_dir is a folder of its array job's storage: STORAGE/files/points/N
        storage, _, folder = (run.work_dir or "").partition("/files/")
        rel = relative_path(path)
        return f"{storage}/files/{folder}/{rel}" if folder else f"{storage}/files/{rel}"

    def read_log(self, run: Run, offset: int, limit: int | None = None) -> bytes:
        headers = {"Accept": "application/octet-stream"}
        if offset or limit:
            end = str(offset + limit - 1) if limit else ""
            headers["Range"] = f"bytes={offset}-{end}"

        def fetch() -> bytes:
            with self.transport().get_stream(url=self._file_url(run, LOG_FILE),
                                             headers=headers) as resp:
                if resp.status_code in (404, 416):  # not written yet / nothing new
                    return b""
                self._check(resp)
                # a server that ignored the range sends the whole file: only the asked
                # bytes are kept, read chunk by chunk, and the rest is never read
                skip = offset if resp.status_code == 200 else 0
                parts, kept = [], 0
                for chunk in resp.iter_bytes(CHUNK):
                    if skip:
                        chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                    parts.append(chunk if limit is None else chunk[:limit - kept])
                    kept += len(parts[-1])
                    if limit is not None and kept >= limit:
                        break
                return b"".join(parts)

        return self.call("reading the log", fetch)

    def _check(self, resp: httpx.Response) -> None:
        """Raise the gateway's error for a streamed answer (its body read: it is short)."""
        if resp.is_error:
            resp.read()
            self.transport().check_error(resp)

    def list_files(self, run: Run, path: str = "") -> list[FileEntry]:
        props = self._get("listing files", self._file_url(run, path),
                          headers={"Accept": "application/json"})
        if not props.get("isDirectory"):
            raise NotFoundError(f"no folder {path!r} in run {run.id}", key="path")
        entries = []
        for name, meta in sorted(props.get("content", {}).items()):
            rel = name.strip("/")
            if PurePosixPath(rel).name.startswith(".mantik"):
                continue
            entries.append(FileEntry(rel, bool(meta.get("isDirectory")),
                                     0 if meta.get("isDirectory") else int(meta.get("size", 0)),
                                     meta.get("lastAccessed")))
        return entries

    def download(self, run: Run, path: str, dest: Path, progress: Progress = NO_PROGRESS
                 ) -> Path:
        rel = relative_path(path)
        props = self._get("reading file properties", self._file_url(run, rel),
                          headers={"Accept": "application/json"})
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / (PurePosixPath(rel).name or run.id)
        if not props.get("isDirectory"):
            self._fetch(run, FileEntry(rel, False, int(props.get("size", 0))), target, progress)
            return target
        target.mkdir(exist_ok=True)
        for entry in self.list_files(run, rel):
            if entry.is_dir:
                self.download(run, entry.path, target, progress)
            else:
                self._fetch(run, entry, target / PurePosixPath(entry.path).name, progress)
        return target

    def _fetch(self, run: Run, entry: FileEntry, target: Path, progress: Progress) -> None:
        """One file of the run home, streamed to disk chunk by chunk (never whole in memory),
        each chunk reported to ``progress``: a download's budget refuses it before it is
        fetched (by the size the site lists) or stops it when it grows past the budget."""
        expect(progress, entry.path, entry.size)
        url = self._file_url(run, entry.path)

        def fetch(spool: Spool) -> None:
            spool.restart()  # a retried attempt begins the file again
            with self.transport().get_stream(
                    url=url, headers={"Accept": "application/octet-stream"}) as resp:
                self._check(resp)
                for chunk in resp.iter_bytes(CHUNK):
                    spool.write(chunk)

        with Spool(target, progress) as spool:
            self.call(f"downloading {entry.path}", fetch, spool)

    def _read(self, run: Run, rel: str) -> bytes:
        """A small file of the run home (the job script), whole."""
        def fetch() -> bytes:
            with self.transport().get_stream(url=self._file_url(run, rel),
                                             headers={"Accept": "application/octet-stream"}) as r:
                data = r.read()
                self.transport().check_error(r)
                return data

        return self.call(f"downloading {rel}", fetch)

    def delete(self, run: Run) -> None:
        if run.remote_job_id:
            self._delete("deleting the job", run.remote_job_id)


def not_before(begin: datetime) -> str:
    """UNICORE's "Not before": ISO time with an RFC-822 offset (``+0100``, not ``+01:00``
    or ``Z``), whole seconds rounded up so the job never starts early."""
    if begin.microsecond:
        begin = begin.replace(microsecond=0) + timedelta(seconds=1)
    return begin.strftime("%Y-%m-%dT%H:%M:%S%z")


def held_until(props: dict) -> str | None:
    """When UNICORE will send a started job held by "Not before" on (from its log)."""
    for line in reversed(props.get("log") or []):
        _, found, when = line.partition(HELD)
        if found:
            return when.strip() or None
    return None


def job_status(props: dict) -> JobStatus:
    """A UNICORE job's properties as a normalised status."""
    native = props.get("status", "UNDEFINED")
    message = props.get("statusMessage") or None
    held = held_until(props) if native == "READY" else None
    if held:
        message = f"starts at {held}"
    code = props.get("exitCode")
    exit_code = int(code) if isinstance(code, str) and code.lstrip("-").isdigit() else None
    if native in QUEUED_STATES:
        state = RunState.QUEUED
    elif native in RUNNING_STATES:
        state = RunState.RUNNING
    elif native == "SUCCESSFUL" and exit_code in (None, 0):
        state = RunState.COMPLETED
    elif native in ("SUCCESSFUL", "FAILED"):
        state = _failed_state(message or "")
        message = message or f"exit code {exit_code}"
    else:
        state = RunState.UNKNOWN
    return JobStatus(state, native, message, exit_code)


def _failed_state(message: str) -> RunState:
    text = message.lower()
    if "cancelled" in text or "aborted" in text:
        return RunState.CANCELLED
    if "timeout" in text or "time limit" in text:
        return RunState.TIMEOUT
    return RunState.FAILED


def _listed_time(text: Any) -> datetime | None:
    """A listing's ``lastAccessed`` (ISO 8601, offset as ``+01:00`` or ``+0100``); None if
    the gateway gave none or another form: the time is shown, never relied on."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None
