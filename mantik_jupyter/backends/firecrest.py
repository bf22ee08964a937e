"""The ``firecrest`` backend: CSCS Alps (daint, eiger, clariden, santis) through FirecREST v2.

A run is one Slurm job named ``mantik-<run id>`` in ``<work root>/mantik-runs/<run id>``
(the work root is the profile's ``work_root`` or the system's default work directory);
the upload cache is ``<work root>/.mantik-cache``. Resources become ``#SBATCH`` lines.
Status costs one request per site and poll for all active runs; the log is read from a
byte offset with ``tail``. FirecREST has no hook for login-node commands (no capability).

Files up to the system's ``max_ops_file_size`` go through ``ops/upload``/``ops/download``;
larger ones through ``transfer/``: pyfirecrest moves them between here and the staging
object store, and a transfer job on the system moves them between the store and the file
system. A transfer that fails has its job cancelled and leaves no partial file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from .. import data
from ..downloads import CHUNK, Spool
from ..errors import BackendError, ConfigError, CredentialsError, MantikError, NotFoundError
from ..progress import NO_PROGRESS, Progress, Stream, reader
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
    wait_terminal,
)
from .remote import Failure, PathFiles, RemoteBackend, relative_path
from .slurm_jobs import JOB_ID_FILE, SlurmJob

log = logging.getLogger(__name__)

TIMEOUT = 60
RATE_LIMIT_RETRIES = 5
#: FirecREST refuses a token with less than 30 s left (its ``min_token_ttl``): a token is
#: replaced earlier, with 15 s more for the request's way there and the clocks' difference.
TOKEN_MARGIN = 45.0
#: the job that stages a run's Data on the data partition, and its log in the run directory
STAGING_PREFIX = "mantik-stage-"
STAGING_LOG = "mantik-stage.log"
TRANSFER_TIMEOUT = 3600.0  # a transfer job queued or running longer is cancelled
TRANSFER_NOT_FOUND = 20.0  # how long a transfer job may be unknown to the scheduler
TRANSFER_POLL = (0.2, 2.0)  # first and longest pause between looks at a transfer job
TRANSFER_DONE = ("File was successfully", "Files were successfully",
                 "Multipart file upload successfully completed")  # what its log says on success
#: How much of the end of a transfer job's log is read (its last lines say how it ended).
LOG_TAIL = 64 * 1024


class TokenEndpointError(Exception):
    """The OIDC token endpoint answered with an error status (never holds the secret)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class SiteToken:
    """Bearer tokens for pyfirecrest: client credentials (refreshed before expiry) or a
    token from the profile's source (re-read when it is rejected)."""

    def __init__(self, backend: FirecrestBackend):
        self.backend = backend
        self._token: str | None = None
        self._expires = 0.0

    def get_access_token(self) -> str:
        """A token valid for at least TOKEN_MARGIN more seconds."""
        if self._token and time.time() < self._expires - TOKEN_MARGIN:
            return self._token
        site = self.backend.site
        if site.auth == "token":
            self._token, self._expires = self.backend.secret(), float("inf")
            return self._token
        client_id = site.settings.get("client_id")
        if not client_id:
            raise CredentialsError(
                f"site {site.name!r} uses client credentials but names no client_id; add your "
                f"profile: mantik-jupyter sites add NAME --base {site.name} --client-id ID",
                key="credentials")
        asked = time.time()  # the token's lifetime counts from its issue, not our receipt
        resp = httpx.post(site.settings["token_url"], timeout=TIMEOUT,
                          verify=site.settings.get("verify_tls", True), data={
                              "grant_type": "client_credentials", "client_id": client_id,
                              "client_secret": self.backend.secret()})
        if resp.status_code != 200:
            try:
                body = resp.json()
                detail = body.get("error_description") or body.get("error") or resp.text
            except ValueError:
                detail = resp.reason_phrase
            if resp.status_code in (400, 401, 403):
                raise CredentialsError(
                    f"site {site.name!r}: the token endpoint refused client {client_id!r} with "
                    f"the secret from {site.credential_ref.describe()} ({resp.status_code}: "
                    f"{detail})", key="credentials")
            raise TokenEndpointError(resp.status_code, f"token endpoint: {detail}")
        body = resp.json()
        self._token = body["access_token"]
        self._expires = asked + float(body.get("expires_in", 300))
        return self._token

    def reset(self) -> None:
        """Forget the token (it was rejected)."""
        self._token = None


class FirecrestBackend(PathFiles, RemoteBackend):
    """Runs jobs through a FirecREST v2 API on one system (``machine``)."""

    kind = "firecrest"
    title = gateway = "FirecREST"
    profile_properties = {
        **RemoteBackend.profile_properties,
        "url": {**RemoteBackend.profile_properties["url"],
                "description": "API URL (https://HOST/.../firecrest/v2)"},
        "token_url": {"type": "string", "pattern": r"^https?://[^\s/]+",
                      "description": "OIDC token endpoint"},
        "machine": {"type": "string", "minLength": 1,
                    "description": "system name (daint, eiger, ...)"},
        "client_id": {"type": "string", "minLength": 1, "description": "OIDC client id"},
        "work_root": {"type": "string", "pattern": "^/", "description": (
            "absolute folder for run directories (default: the system's work directory)")},
        "compute_network": {"type": "boolean", "description": (
            "compute nodes reach the network: a run's CliMetLab Data is staged in its job")},
        "data_partition": {"type": "string", "minLength": 1, "description": (
            "partition whose nodes reach the network (a transfer partition): a run's "
            "CliMetLab Data is staged there in a job of its own before the run's job")},
    }
    profile_required = ("url", "machine")
    auth_methods = ("client-credentials", "token")
    # sbatch reads the script's #SBATCH --begin (FirecREST submits through sbatch over SSH)
    capabilities = replace(RemoteBackend.capabilities, deferred_start=True)

    def __init__(self, site: Any, home: Path):
        super().__init__(site, home)
        self._client: Any = None
        self._token = SiteToken(self)
        self._root: str | None = None
        self._cache_ready = False
        self._direct_max: int | None = None

    @property
    def machine(self) -> str:
        return self.settings["machine"]

    def client(self) -> Any:
        """The pyfirecrest v2 sync client (built on first use)."""
        if self._client is None:
            from firecrest.v2 import Firecrest

            client = Firecrest(self.settings["url"], self._token,
                               verify=self.settings.get("verify_tls", True))
            client.timeout = TIMEOUT
            client.num_retries_rate_limit = RATE_LIMIT_RETRIES
            self._client = client
        return self._client

    def reauthenticate(self) -> bool:
        self._token.reset()
        return True

    def classify(self, exc: BaseException) -> Failure | None:
        from firecrest.FirecrestException import FirecrestException

        if isinstance(exc, FirecrestException) and exc.responses:
            resp = exc.responses[-1]
            try:
                message = resp.json().get("message") or resp.text
            except ValueError:
                message = resp.text or resp.reason_phrase
            status = resp.status_code
            return Failure(str(message), status, status >= 500 or status in (408, 429))
        if isinstance(exc, TokenEndpointError):
            return Failure(exc.message, exc.status, exc.status >= 500 or exc.status == 429)
        if isinstance(exc, httpx.TransportError):
            return Failure(str(exc) or type(exc).__name__, None, transient=True)
        return None

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call(what, lambda: getattr(self.client(), method)(*args, **kwargs))

    def probe(self) -> str:
        system = self._system()
        scheduler = system.get("scheduler", {})
        version = self.client()._detected_version_header or "v2"
        return (f"FirecREST {version} at {self.settings['url']}, system {self.machine} "
                f"({scheduler.get('type', '?')} {scheduler.get('version', '')})".rstrip())

    def _system(self) -> dict:
        systems = self._call("listing systems", "systems")
        for system in systems:
            if system.get("name") == self.machine:
                return system
        names = ", ".join(s.get("name", "?") for s in systems) or "none"
        raise ConfigError(f"site {self.site.name!r}: FirecREST has no system {self.machine!r}; "
                          f"it has: {names}", key="machine")

    @property
    def root(self) -> str:
        """The folder runs and the upload cache live in on the system."""
        if self._root is None:
            configured = self.settings.get("work_root")
            if configured:
                self._root = configured.rstrip("/")
            else:
                folders = self._system().get("fileSystems", [])
                default = next((f for f in folders if f.get("defaultWorkDir")), None)
                if default is None:
                    raise ConfigError(f"site {self.site.name!r}: system {self.machine!r} names "
                                      "no default work directory; set work_root in the profile",
                                      key="work_root")
                self._root = default["path"].rstrip("/")
        return self._root

    # ------------------------------------------------------------------ upload cache
    def cache_dir(self) -> str:
        path = f"{self.root}/.mantik-cache"
        if not self._cache_ready:
            self._call("creating the upload cache", "mkdir", self.machine, path,
                       create_parents=True)
            self._private(path, 0o700)
            self._cache_ready = True
        return path

    def cached(self) -> dict[str, int]:
        entries = self._call("listing the upload cache", "list_files", self.machine,
                             self.cache_dir())
        return {e["name"]: int(e["size"]) for e in entries if e.get("type") == "-"}

    def put_blob(self, sha: str, local: Path, size: int, progress: Progress = NO_PROGRESS
                 ) -> None:
        chunks = reader(local, progress)  # a fresh stream per attempt, bytes counted once
        self.upload(f"uploading {local.name} ({size} bytes) to the upload cache",
                    lambda: Stream(chunks()), self.cache_dir(), sha, size)

    # ------------------------------------------------------------------ transfers
    def sized_client(self) -> Any:
        """The client, deciding direct or staged transfers by the system's own limit."""
        client = self.client()
        if self._direct_max is None:
            operations = self._system().get("dataOperation") or {}
            limit = operations.get("max_ops_file_size")
            # pyfirecrest sends a file directly when smaller than the threshold; the
            # system takes up to and including max_ops_file_size bytes
            self._direct_max = int(limit) if limit else client.MAX_DIRECT_UPLOAD_SIZE - 1
            client.MAX_DIRECT_UPLOAD_SIZE = self._direct_max + 1
        return client

    def upload(self, what: str, source: Callable[[], Any], directory: str, name: str,
               size: int) -> None:
        """Upload ``source()`` (a path or a fresh stream per attempt) as ``directory/name``."""
        client = self.sized_client()
        transfer = self.call(what, lambda: client.upload(
            self.machine, source(), directory, name, blocking=False, file_size=size))
        if transfer is not None:  # too large for ops/upload: through the staging area
            self.transfer(what, transfer, before=transfer.upload_file_to_stage)

    def fetch(self, what: str, source: str, spool: Spool) -> None:
        """Download the file ``source`` into ``spool``: a small one whole (at most
        ``max_ops_file_size``), a larger one streamed from the staging area chunk by chunk."""
        client = self.sized_client()
        transfer = self.call(what, client.download, self.machine, source, str(spool.temp),
                             blocking=False)
        if transfer is None:
            spool.adopt()
        else:  # too large for ops/download: through the staging area
            transfer.chunk_size = CHUNK  # pyfirecrest's own is 64 MB, held in memory each
            self.transfer(what, transfer, after=lambda: transfer.download_file_from_stage(
                spool))

    def transfer(self, what: str, transfer: Any, before: Callable[[], None] | None = None,
                 after: Callable[[], None] | None = None) -> None:
        """Run a staged transfer: ``before`` the job (our parts into the store), the job,
        then ``after`` it (the object out of the store). A job that may still run when
        anything fails is cancelled: none is left waiting for data that never comes."""
        job = transfer.transfer_data["transferJob"]
        try:
            if before:
                self.staging(what, before)
            status = self.await_transfer(what, job)
        except BaseException:
            try:
                self._call("cancelling the transfer job", "cancel_job", self.machine,
                           str(job["jobId"]))
            except MantikError as exc:
                log.warning("could not cancel transfer job %s: %s", job["jobId"], exc.message)
            raise
        self.check_transfer(what, job, status)
        if after:
            self.staging(what, after)

    def staging(self, what: str, move: Callable[[], None]) -> None:
        """Move data to or from the staging object store; its refusals as one clear line."""
        from firecrest.FirecrestException import MultipartUploadException

        try:
            move()
        except MultipartUploadException as exc:  # its str() holds the presigned URLs
            detail = getattr(exc, "_msg", None) or "the multipart upload failed"
            raise BackendError(f"site {self.site.name!r}: {what} failed: the staging object "
                               f"store refused it ({s3_detail(detail)})") from None
        except httpx.HTTPStatusError as exc:  # its str() holds the presigned URL
            resp = exc.response
            resp.read()
            raise BackendError(
                f"site {self.site.name!r}: {what} failed: the staging object store answered "
                f"{resp.status_code} ({s3_detail(resp.text) or resp.reason_phrase})") from None
        except httpx.TransportError as exc:
            raise BackendError(f"site {self.site.name!r}: {what} failed: the staging object "
                               f"store cannot be reached ({type(exc).__name__})") from None

    def await_transfer(self, what: str, job: dict) -> JobStatus:
        """The transfer job's status once it has ended."""
        job_id = str(job["jobId"])
        started = seen = time.monotonic()
        pause = TRANSFER_POLL[0]
        while True:
            try:
                found = self._call("reading the transfer job", "job_info", self.machine,
                                   job_id)[0]
                seen = time.monotonic()
            except NotFoundError:
                # unknown for a while after it was last seen: a job just submitted, or one
                # that left the queue before the accounting (sacct -c) lists it
                if time.monotonic() - seen > TRANSFER_NOT_FOUND:
                    raise BackendError(f"site {self.site.name!r}: {what} failed: transfer job "
                                       f"{job_id} is unknown to the scheduler") from None
                found = None
            if found and job_status(found).state.terminal:
                return job_status(found)
            if time.monotonic() - started > TRANSFER_TIMEOUT:
                raise BackendError(f"site {self.site.name!r}: {what} failed: transfer job "
                                   f"{job_id} did not finish within {TRANSFER_TIMEOUT:.0f} s")
            time.sleep(pause)
            pause = min(pause * 1.5, TRANSFER_POLL[1])

    def check_transfer(self, what: str, job: dict, status: JobStatus) -> None:
        """BackendError, with the job's last error line, unless the job moved the file."""
        logs = job["logs"]
        if status.state is RunState.COMPLETED and any(
                done in self.transfer_log(logs["outputLog"]) for done in TRANSFER_DONE):
            return
        errors = [line.strip() for line in self.transfer_log(logs["errorLog"]).splitlines()
                  if line.strip()]
        raise BackendError(
            f"site {self.site.name!r}: {what} failed: transfer job {job['jobId']} ended "
            f"{status.native_state} (exit code {status.exit_code})"
            + (f": {s3_detail(errors[-1])}" if errors else "; its log says nothing more"))

    def transfer_log(self, path: str) -> str:
        """A transfer job's log ('' when it never started)."""
        try:
            return self.text_tail("reading the transfer job's log", path, LOG_TAIL)
        except NotFoundError:
            return ""

    def text_tail(self, what: str, path: str, size: int) -> str:
        """The last ``size`` bytes of a file as text. Not ``ops/view``: CSCS's server reads
        5 MiB by default there and refuses that above its ``max_ops_file_size`` (1 MiB on
        Alps), and pyfirecrest's ``view`` cannot ask for less."""
        return self._call(what, "tail", self.machine, path, num_bytes=size)["content"]

    def validate(self, spec: RunSpec) -> None:
        super().validate(spec)
        if spec.data and not (self.settings.get("compute_network")
                              or self.settings.get("data_partition")):
            raise ConfigError(f"Data: site {self.site.name!r} has no place to stage data where "
                              "the network is; set its profile key data_partition (a partition "
                              "whose nodes reach the network) or, if its compute nodes do, "
                              "compute_network: true", key="Data")

    def staging_place(self) -> str:
        return "job" if self.settings.get("compute_network") else "step"

    def submit_staging(self, workspace: str, job: JobRequest, spec: RunSpec) -> str:
        """Submit the job that stages the run's Data on the data partition; its job id."""
        directives = [f"#SBATCH --job-name={STAGING_PREFIX}{job.run_id}",
                      f"#SBATCH --partition={self.settings['data_partition']}",
                      f"#SBATCH --output={STAGING_LOG}"]
        script = "\n".join(["#!/bin/bash -l", *directives, "# generated by mantik-jupyter",
                            data.login_command(spec, self.settings[data.CACHE_KEY])]) + "\n"
        created = self.call("submitting the data staging job", self.client().submit,
                            self.machine, working_dir=workspace, script_str=script)
        return str(created["jobId"])

    # ------------------------------------------------------------------ submit
    def script_directives(self, job: JobRequest, spec: RunSpec) -> list[str]:
        return slurm_jobs.job_directives(spec, job)

    def workspace(self, run_id: str) -> str:
        """The run's working directory on the system (named by the run id)."""
        return f"{self.root}/mantik-runs/{run_id}"

    def open_workspace(self, job: JobRequest, spec: RunSpec) -> str:
        path = self.workspace(job.run_id)
        self._call("creating the run directory", "mkdir", self.machine, path, create_parents=True)
        try:
            self._private(path, 0o700)
        except BaseException:
            self.discard(path)
            raise
        return path

    def private_file(self, workspace: str, name: str) -> None:
        self._private(f"{workspace}/{name}", 0o600)

    def _private(self, path: str, mode: int) -> None:
        """chmod through the API, verified by stat: refused while others could still read."""
        self._call(f"making {path} owner-only", "chmod", self.machine, path, f"{mode:o}")
        found = int(self._call(f"checking who may read {path}", "stat", self.machine,
                               path)["mode"])
        if found & 0o077:
            raise BackendError(f"site {self.site.name!r}: {path} stays open to others (mode "
                               f"{found & 0o777:o}) after chmod {mode:o}; nothing is "
                               "uploaded into it")

    def put_file(self, workspace: str, name: str, data: bytes) -> None:
        self.upload(f"uploading {name}", lambda: io.BytesIO(data), workspace, name, len(data))

    def launch(self, workspace: str, job: JobRequest, spec: RunSpec, script: str) -> Submission:
        def recover() -> dict | None:  # the job a lost reply would have named
            found = self._job_of(job.run_id)  # an array's: one of its tasks, 123_4
            return {"jobId": found.job_id.partition("_")[0]} if found else None

        staging = None
        if spec.data and self.staging_place() == "step":  # the job waits for its data
            staging = self.submit_staging(workspace, job, spec)
            shebang, rest = script.split("\n", 1)
            script = (f"{shebang}\n#SBATCH --dependency=afterok:{staging}\n"
                      f"#SBATCH --kill-on-invalid-dep=yes\n{rest}")
        try:
            created = self.call("submitting the job", self.client().submit, self.machine,
                                working_dir=workspace, script_str=script, recover=recover)
        except BaseException:
            if staging is not None:  # no orphan: the staging job served only this job
                with contextlib.suppress(MantikError):
                    self._call("cancelling the data staging job", "cancel_job", self.machine,
                               staging)
            raise
        return Submission(str(created["jobId"]), workspace, script)

    def _job_of(self, run_id: str) -> SlurmJob | None:
        """The run's job, if the site's job list has it."""
        jobs = self._call("looking for the job", "job_info", self.machine)
        return slurm_jobs.run_job(map(slurm_job, jobs), run_id, self.workspace(run_id))

    def started_lines(self) -> list[str]:
        return [slurm_jobs.NOTE_JOB_ID]

    def find(self, run: Run) -> Submission | None:
        """The job by its name and directory, or by the id it noted there when it started;
        without either, the run directory (the attempt's upload) is removed."""
        workspace = self.workspace(run.id)
        job = self._job_of(run.id)
        job_id = job.job_id if job else self._noted_job_id(workspace)
        if not job_id:
            with contextlib.suppress(NotFoundError):  # none if the attempt died before it
                self._call("removing the run directory", "rm", self.machine, workspace)
            return None
        try:
            script = self._call("reading the job's script", "job_metadata", self.machine,
                                job_id)[0].get("script") or ""
        except NotFoundError:  # the site forgot the job; its files tell the rest
            script = ""
        return Submission(job_id, workspace, script)

    def _noted_job_id(self, workspace: str) -> str | None:
        try:
            noted = self.text_tail("reading the job id", f"{workspace}/{JOB_ID_FILE}", 64)
        except NotFoundError:
            return None
        return slurm_jobs.noted_job_id(noted)

    def discard(self, workspace: str) -> None:
        try:
            self._call("removing the run directory", "rm", self.machine, workspace)
        except MantikError as exc:
            log.warning("could not remove %s: %s", workspace, exc.message)

    # ------------------------------------------------------------------ status
    def status(self, runs: list[Run]) -> dict[str, JobStatus]:
        jobs = slurm_jobs.split_tasks({str(j["jobId"]): j for j in
                                       self._call("listing jobs", "job_info", self.machine)})
        result = {}
        for run in runs:
            if not run.remote_job_id:
                continue
            found = jobs.get(run.remote_job_id)
            if found is None:  # dropped from the recent-jobs list: ask for it alone
                try:
                    found = self._call("reading the job", "job_info", self.machine,
                                       run.remote_job_id)[0]
                except NotFoundError:
                    result[run.id] = JobStatus(RunState.UNKNOWN, GONE,
                                               "the job is not known to the site")
                    continue
            result[run.id] = job_status(found)
        return result

    def cancel(self, run: Run) -> None:
        self._call("cancelling the job", "cancel_job", self.machine, run.remote_job_id)
        staging = self._cancel_staging(run)
        for job_id in filter(None, (run.remote_job_id, staging)):
            wait_terminal(lambda job_id=job_id: job_status(
                self._call("reading the job", "job_info", self.machine, job_id)[0]))

    def _cancel_staging(self, run: Run) -> str | None:
        """Cancel the run's data staging job if it is still queued or running (the run's
        job waiting for it ends at once; the staging job would run on); its id if so."""
        if not (RunSpec(run.spec).data and self.staging_place() == "step"):
            return None
        name = f"{STAGING_PREFIX}{run.id}"
        jobs = map(slurm_job, self._call("looking for the data staging job", "job_info",
                                         self.machine))
        found = next((j for j in jobs if j.name == name and not j.status.state.terminal),
                     None)
        if found is None:
            return None
        self._call("cancelling the data staging job", "cancel_job", self.machine, found.job_id)
        return found.job_id

    def cancel_points(self, runs: list[Run]) -> None:
        """``scancel`` each array once (its tasks all end), then wait until the points did."""
        for array in slurm_jobs.array_ids(runs):
            self._call("cancelling the job array", "cancel_job", self.machine, array)
        wait_terminal(lambda: all_ended(self.status(runs)))

    # ------------------------------------------------------------------ files
    def read_log(self, run: Run, offset: int, limit: int | None = None) -> bytes:
        """The asked bytes only, through ``ops/view``'s offset and size (at most the system's
        ``max_ops_file_size`` per call), never the rest of the file."""
        client = self.sized_client()
        size = self._direct_max if limit is None else min(limit, self._direct_max)

        def view() -> str:  # pyfirecrest's view() takes neither offset nor size
            resp = client._get_request(
                endpoint=f"/filesystem/{self.machine}/ops/view",
                params={"path": self._path(run, LOG_FILE), "offset": offset, "size": size})
            return client._check_response(resp, 200)["output"]

        parts: list[bytes] = []
        while True:  # without a limit: view after view up to the end (an empty answer)
            try:
                part = exact_bytes(self.call("reading the log", view))
            except NotFoundError:
                part = b""
            parts.append(part)
            if limit is not None or not part:
                return b"".join(parts)
            offset += len(part)

    def list_files(self, run: Run, path: str = "") -> list[FileEntry]:
        rel = relative_path(path)
        entries = self._call("listing files", "list_files", self.machine, self._path(run, rel))
        return [FileEntry(f"{rel}/{e['name']}" if rel else e["name"], e["type"] == "d",
                          0 if e["type"] == "d" else int(e["size"]), e.get("lastModified"))
                for e in entries if not e["name"].startswith(".mantik")]

    def examine(self, source: str) -> tuple[bool, int]:
        info = self._call("reading file properties", "stat", self.machine, source)
        return bool(info["mode"] & 0o040000), int(info["size"])

    def fetch_file(self, what: str, source: str, spool: Spool) -> None:
        self.fetch(what, source, spool)

    def delete(self, run: Run) -> None:
        if run.work_dir:
            self._call("removing the run directory", "rm", self.machine, run.work_dir)


def s3_detail(text: str) -> str:
    """One line of an object-store error: S3's ``Code: Message`` if it is XML, URLs removed
    (a presigned URL is a credential)."""
    code = re.search(r"<Code>(.*?)</Code>", text, re.DOTALL)
    message = re.search(r"<Message>(.*?)</Message>", text, re.DOTALL)
    if code or message:
        prefix = text[:text.find("<")].strip().rstrip(":")
        text = " ".join(filter(None, (prefix, code and code.group(1),
                                      message and message.group(1))))
    return " ".join(re.sub(r"https?://\S+", "<url>", text).split())


def exact_bytes(content: str) -> bytes:
    """The bytes a text answer stands for; a character cut at the end is left for later.
    (The answer's start and end positions echo the request, they do not count bytes.)"""
    return content.removesuffix("\ufffd").encode()


def slurm_job(job: dict) -> SlurmJob:
    """A FirecREST JobModel as a Slurm job."""
    status, times = job.get("status", {}), job.get("time", {})
    code = status.get("exitCode")
    state = str(status.get("state") or "UNKNOWN")
    # a pending job's start time is when Slurm expects to start it (a --begin job's begin)
    pending = state.split()[0] == "PENDING" if state.strip() else False
    start = _iso(times.get("start"))
    return SlurmJob(str(job.get("jobId")), str(job.get("name") or ""),
                    job.get("workingDirectory"), state,
                    code if isinstance(code, int) else None, status.get("interruptSignal"),
                    None if pending else start, _iso(times.get("end")),
                    status.get("stateReason"), start if pending else None)


def job_status(job: dict) -> JobStatus:
    """A FirecREST JobModel as a normalised status."""
    return slurm_job(job).status


def _iso(timestamp: Any) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(float(timestamp), timezone.utc).isoformat()
