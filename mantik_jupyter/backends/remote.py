"""What the gateway backends (UNICORE, FirecREST) share.

- Retries: transient faults (5xx, 429, dropped connections, timeouts) are retried with
  exponential backoff, a bounded number of times; a 401 first re-reads the credentials
  once (an expired token); permanent faults raise at once with the gateway's own message.
- Idempotent creation: after a transient fault on a create call, the backend looks for
  what the lost reply would have named (the job tagged with the run id) before retrying.
- An incremental upload: the bundle's files go into a content-addressed cache on the site
  (one file per sha256, per site and user), only the missing ones are sent; the job script
  copies them into the job directory from a manifest before it runs the notebook.
- The job script: log to ``mantik-job.log``, read the owner-only secrets file and delete
  it, restore the bundle, then the shared :func:`mantik_jupyter.jobscript.render` part.
- Owner-only on the site: the run folder and the upload cache are made (or verified) 0700
  before anything is uploaded into them, the secrets file 0600, and the job runs with
  ``umask 077`` from its first line, so nothing it writes is readable by others.
"""

from __future__ import annotations

import copy
import hashlib
import shlex
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, TypeVar

from .. import credentials, data
from ..bundle import MANIFEST as RUN_MANIFEST
from ..bundle import Bundle
from ..downloads import Spool, expect
from ..errors import BackendError, ConfigError, CredentialsError, MantikError, NotFoundError
from ..jobscript import render
from ..progress import NO_PROGRESS, Progress
from ..spec import RunSpec, merge_config
from ..store import Run
from ..tracking import OFFLINE_STORE
from . import LOG_FILE, ArraySubmission, Backend, Capabilities, JobRequest, Submission

T = TypeVar("T")

MANIFEST = ".mantik-files"
SECRETS = ".mantik-secrets"
SCRIPT = "mantik-job.sh"
RESTORE_LOCK = ".mantik-restore.lock"
RESTORED = ".mantik-restored"
CACHE_TAG = "mantik-upload-cache"
IMAGE_DIR = "mantik-image"
ATTEMPTS = 8
CHECK_ATTEMPTS = 2  # a connection test must answer in seconds, not after minutes of retries
FIRST_DELAY = 0.25
MAX_DELAY = 4.0


@dataclass(frozen=True)
class Failure:
    """A gateway call that went wrong, as the backend's classifier read it."""

    message: str
    status: int | None = None
    transient: bool = False


def job_name(run_id: str) -> str:
    """The job name (and UNICORE tag) that carries a run id to the site."""
    return f"mantik-{run_id}"


def manifest(files: dict[str, tuple[str, Path]]) -> bytes:
    """``sha256 NUL path NUL`` for every job file (NUL-separated: any name is safe)."""
    return b"".join(f"{sha}\0{rel}\0".encode() for rel, (sha, _) in sorted(files.items()))


def local_image(spec: RunSpec) -> Path | None:
    """The Apptainer image to upload (``Type: local``, the default), or None."""
    apptainer = spec.environment.get("Apptainer")
    if not apptainer or apptainer.get("Type", "local") != "local":
        return None
    image = Path(apptainer["Path"]).expanduser().resolve()
    if not image.is_file():
        raise ConfigError(f"Environment.Apptainer.Path: no local image {str(image)!r}; for an "
                          "image on the site give its absolute path and Type: remote",
                          key="Environment.Apptainer.Path")
    return image


def job_files(bundle: Bundle, spec: RunSpec) -> tuple[RunSpec, dict[str, tuple[str, Path]]]:
    """What the job directory gets from the upload cache (path -> sha256, local file): the
    bundle and a local Apptainer image, which the returned spec then names by its copy."""
    files = {rel: (sha, bundle.source(rel)) for rel, sha in bundle.files.items()}
    image = local_image(spec)
    if image is None:
        return spec, files
    rel = f"{IMAGE_DIR}/{image.name}"
    digest = hashlib.sha256()
    with open(image, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    files[rel] = (digest.hexdigest(), image)
    return spec.with_overrides({"Environment": {"Apptainer": {"Path": rel}}}), files


def secrets_file(secret_env: dict[str, str]) -> bytes:
    """The owner-only file the job sources for its secrets (``NAME='value'`` lines)."""
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(secret_env.items())).encode()


def prologue(cache_dir: str, bundle: Bundle, shared: bool = False) -> list[str]:
    """Shell lines run first: log, secrets (read then deleted), the bundle from the cache
    (each file checked against its sha256).

    ``shared``: the tasks of a job array share the directory, so the secrets stay for the
    other tasks (owner-only, removed with the directory) and the first task restores the
    bundle while the others wait on a lock (``flock``)."""
    output_dir = PurePosixPath(bundle.output_notebook).parent
    forget = "" if shared else f" rm -f {SECRETS};"
    restore = [
        f"mantik_cache={shlex.quote(cache_dir)}",
        "while IFS= read -r -d '' sha && IFS= read -r -d '' path; do",
        '  mkdir -p -- "$(dirname -- "$path")" && cp -- "$mantik_cache/$sha" "$path" || {',
        '    echo "mantik: cannot restore $path from the upload cache" >&2; exit 97; }',
        # the copy is checked, not trusted: a cached file damaged or rewritten meanwhile
        # (of the same size, which is all the client compares) is removed, so the next
        # submit uploads it anew
        '  [ "$(sha256sum < "$path" | cut -d " " -f 1)" = "$sha" ] || {',
        '    rm -f -- "$mantik_cache/$sha"',
        '    echo "mantik: $path from the upload cache is damaged (its sha256 differs); it was'
        ' removed from the cache, submit again to upload it anew" >&2; exit 97; }',
        f"done < {MANIFEST}",
    ]
    if shared:
        restore = [f"exec 9>{RESTORE_LOCK}", "flock 9", f"if [ ! -f {RESTORED} ]; then",
                   *restore, f": > {RESTORED}", "fi", "flock -u 9"]
    return [
        "umask 077",  # first: the log and everything after it are owner-only
        f"exec >>{LOG_FILE} 2>&1",
        f"if [ -f {SECRETS} ]; then set -a; . ./{SECRETS}; set +a;{forget} fi",
        *restore,
        f"mkdir -p -- {shlex.quote(str(output_dir))}",
    ]


def relative_path(path: str) -> str:
    """A user-given path inside the run directory ('' for the directory itself)."""
    rel = PurePosixPath((path or "").strip().lstrip("/"))
    if ".." in rel.parts or "\x00" in str(rel):
        raise ConfigError(f"path {path!r} leaves the run directory", key="path")
    return "" if str(rel) == "." else str(rel)


def effective_spec(site_environment: dict[str, Any] | None, spec: RunSpec) -> RunSpec:
    """The run's spec with the site profile's ``environment`` as defaults under it."""
    defaults = dict(site_environment or {})
    own = spec.environment
    if "Apptainer" in own:
        defaults.pop("Python", None)
    if "Python" in own:
        defaults.pop("Apptainer", None)
    if not defaults:
        return spec
    return RunSpec(merge_config({"Environment": defaults}, spec.config))


class RemoteBackend(Backend):
    """A gateway backend: retries, credentials, the upload cache and the submit template."""

    gateway: str = "gateway"
    #: what every gateway profile has (subclasses describe their ``url``)
    profile_properties: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "url": {"type": "string", "pattern": r"^https?://[^\s/]+"},
        "verify_tls": {"type": "boolean",
                       "description": "check the gateway's TLS certificate (default: yes)"},
        "offline_tracking": {"type": "boolean", "description": (
            "compute nodes without network: jobs track to a file store in their run "
            "directory, imported into your MLflow when they end")},
        "max_array_size": {"type": "integer", "minimum": 1, "description": (
            "the most tasks one job array may have (Slurm's MaxArraySize; default 1001): "
            "a larger sweep goes as several arrays")},
    }
    profile_required = ("url",)
    capabilities = Capabilities(offline_tracking=True, job_arrays=True)
    #: how often a transient fault is tried before it fails the operation
    attempts = ATTEMPTS

    def check(self) -> str:
        """Test the connection with few retries (on a copy, so concurrent calls keep theirs)."""
        quick = copy.copy(self)
        quick.attempts = CHECK_ATTEMPTS
        return quick.probe()

    # ------------------------------------------------------------------ to implement
    @abstractmethod
    def probe(self) -> str:
        """Ask the gateway who we are there; the one-line answer of :meth:`check`."""

    @abstractmethod
    def classify(self, exc: BaseException) -> Failure | None:
        """Read a client exception as a Failure (None: not a gateway fault, re-raise)."""

    def reauthenticate(self) -> bool:
        """Drop cached credentials after a 401; True if a retry may now succeed."""
        return False

    @abstractmethod
    def cache_dir(self) -> str:
        """Absolute path of the upload cache on the site (created owner-only if needed)."""

    @abstractmethod
    def cached(self) -> dict[str, int]:
        """Sizes of the blobs in the upload cache, by sha256."""

    @abstractmethod
    def put_blob(self, sha: str, local: Any, size: int, progress: Progress = NO_PROGRESS
                 ) -> None:
        """Upload one file into the cache under its sha256, reporting bytes to
        ``progress`` as they are sent."""

    @abstractmethod
    def open_workspace(self, job: JobRequest, spec: RunSpec) -> Any:
        """Make the job's working directory (UNICORE: the job, not started yet), owner-only
        (0700, verified) before anything is uploaded into it."""

    @abstractmethod
    def put_file(self, workspace: Any, name: str, data: bytes) -> None:
        """Write a small file into the working directory."""

    @abstractmethod
    def launch(self, workspace: Any, job: JobRequest, spec: RunSpec, script: str) -> Submission:
        """Start the job; raise (after which the workspace is discarded) if the site refuses."""

    @abstractmethod
    def discard(self, workspace: Any) -> None:
        """Remove what ``open_workspace`` made (a failed submission leaves nothing)."""

    @abstractmethod
    def script_directives(self, job: JobRequest, spec: RunSpec) -> list[str]:
        """Batch directives at the top of the script (none for UNICORE)."""

    def private_file(self, workspace: Any, name: str) -> None:
        """Make a file just written into the (owner-only) run folder 0600, where the gateway
        can (by default the folder's mode alone protects it)."""

    def started_lines(self) -> list[str]:
        """Shell lines the job runs right after the shared prologue (none by default)."""
        return []

    # ------------------------------------------------------------------ shared
    @property
    def settings(self) -> dict[str, Any]:
        return self.site.settings

    def secret(self) -> str:
        """The site's password, client secret or token from the profile's reference."""
        return credentials.resolve(self.site.name, self.site.auth, self.site.credential_ref,
                                   self.home)

    def validate(self, spec: RunSpec) -> None:
        super().validate(spec)
        queues = self.settings.get("queues")
        queue = spec.resources.get("Queue")
        if queues and queue is not None and queue not in queues:
            raise ConfigError(
                f"Resources.Queue: site {self.site.name!r} has no queue {queue!r}; "
                f"its queues: {', '.join(queues)}", key="Resources.Queue")
        local_image(effective_spec(self.settings.get("environment"), spec))
        if spec.data and not self.settings.get(data.CACHE_KEY):
            raise ConfigError(f"Data: site {self.site.name!r} names no folder to stage data in; "
                              f"set its profile key {data.CACHE_KEY} (a folder shared by its runs)",
                              key="Data")
        self.secret()  # missing credentials fail before anything is staged

    def call(
        self,
        what: str,
        fn: Callable[..., T],
        *args: Any,
        recover: Callable[[], T | None] | None = None,
        **kwargs: Any,
    ) -> T:
        """``fn(*args, **kwargs)`` with bounded retries of transient faults.

        ``recover`` runs before each retry; if it finds the result a lost reply hid
        (the job a create call made), that is returned instead of calling again.
        """
        delay = FIRST_DELAY
        reauthenticated = False
        for attempt in range(1, self.attempts + 1):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified just below
                failure = self.classify(exc)
                if failure is None:
                    raise
                if failure.status == 401 and not reauthenticated and self.reauthenticate():
                    reauthenticated = True
                    continue
                if not failure.transient or attempt == self.attempts:
                    raise self.error(what, failure, attempt) from None
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
            if recover is not None:
                found = recover()
                if found is not None:
                    return found
        raise AssertionError("unreachable")  # pragma: no cover

    def error(self, what: str, failure: Failure, attempts: int = 1) -> MantikError:
        """The MantikError for a failed call: names the site and what failed (one line)."""
        where = f"site {self.site.name!r}"
        lines = [line.strip() for line in failure.message.splitlines() if line.strip()]
        failure = Failure("; ".join(lines), failure.status, failure.transient)
        if failure.status in (401, 403):
            return CredentialsError(
                f"{where}: the {self.gateway} gateway refused the credentials from "
                f"{self.site.credential_ref.describe()} while {what} ({failure.status}: "
                f"{failure.message})", key="credentials")
        if failure.status == 404:
            return NotFoundError(f"{where}: {what}: {failure.message}")
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return BackendError(f"{where}: {what} failed{tries}: {failure.message}")

    def submit(self, job: JobRequest) -> Submission:
        spec, files = job_files(job.bundle,
                                effective_spec(self.settings.get("environment"), job.spec))
        cache = self.cache_dir()
        sent = self.sync_cache(files, job.progress)
        job.progress.phase("submitting")
        env, secret_env = job.env, job.secret_env
        lines = prologue(cache, job.bundle, shared=job.array is not None) + self.started_lines()
        if self.settings.get("offline_tracking"):  # no network: track to a file store here
            env = {k: v for k, v in env.items() if not k.startswith("MLFLOW_")}
            secret_env = {}
            lines += [f'export MLFLOW_TRACKING_URI="file://$PWD/{OFFLINE_STORE}"',
                      "export MLFLOW_ALLOW_FILE_STORE=true"]
        spec, data_files, before_main = self.data_staging(spec)
        script = render(spec, job.main_command, directives=self.script_directives(job, spec),
                        exports=env, prologue=lines, before_main=before_main)
        workspace = self.open_workspace(job, spec)
        try:
            direct = {MANIFEST: manifest(files), SCRIPT: script.encode(),
                      RUN_MANIFEST: (job.bundle.path / RUN_MANIFEST).read_bytes(), **data_files}
            if secret_env:
                direct[SECRETS] = secrets_file(secret_env)
            for name, data in direct.items():
                self.put_file(workspace, name, data)
                sent += len(data)
            if SECRETS in direct:
                self.private_file(workspace, SECRETS)
            submission = self.launch(workspace, job, spec, script)
        except BaseException:
            self.discard(workspace)
            raise
        return Submission(submission.remote_job_id, submission.work_dir, submission.script, sent)

    def staging_place(self) -> str:
        """Where a run's ``Data`` is staged: ``login`` (the login-node pre-command, where the
        site runs one), ``job`` (the job itself, before the notebook) or ``step`` (a job of
        its own that the run's job waits for, where the backend submits one)."""
        login = "PreRunCommandOnLoginNode" in self.capabilities.login_node_commands
        return "login" if login else "job"

    def data_staging(self, spec: RunSpec) -> tuple[RunSpec, dict[str, bytes], list[str]]:
        """The spec (with the login-node pre-command that stages, there), the files for the
        job directory and the job's lines before the notebook, for the run's ``Data``."""
        if not spec.data:
            return spec, {}, []
        folder = self.settings[data.CACHE_KEY]
        place = self.staging_place()
        if place == "login":
            spec = spec.with_overrides({"Environment": {
                "PreRunCommandOnLoginNode": data.login_command(spec, folder)}})
        read_only = bool(self.settings.get(data.READ_ONLY_KEY))
        return spec, data.files(spec, folder), data.job_lines(folder, place == "job", read_only)

    def submit_array(self, job: JobRequest, points: list[int]) -> ArraySubmission:
        """The array as one job (bundle and script sent once); its tasks' ids and folders."""
        return self.array_submission(self.submit(job), points)

    def task_ids(self, submission: Submission, count: int) -> list[str]:
        """The ids the tasks of a started array are known by, in task order (Slurm's
        ``<array job>_<task>``)."""
        return [f"{submission.remote_job_id}_{task}" for task in range(count)]

    def sync_cache(self, files: dict[str, tuple[str, Path]],
                   progress: Progress = NO_PROGRESS) -> int:
        """Upload the files whose content the cache lacks; returns the bytes sent."""
        have = self.cached()
        missing = {sha: (local, local.stat().st_size)
                   for sha, local in sorted(dict(files.values()).items())}
        missing = {sha: item for sha, item in missing.items() if have.get(sha) != item[1]}
        progress.phase("uploading", total_bytes=sum(size for _, size in missing.values()),
                       total_files=len(missing))
        for sha, (local, size) in missing.items():
            self.put_blob(sha, local, size, progress)
            progress.advance(files=1)
        return sum(size for _, size in missing.values())


class PathFiles:
    """A run directory that is a plain folder path on the site (FirecREST, Slurm): paths in
    it, and a download that fetches a file or each file of a folder."""

    def _path(self, run: Run, path: str) -> str:
        """The site path of ``path`` inside the run directory (checked not to leave it)."""
        rel = relative_path(path)
        return f"{run.work_dir}/{rel}" if rel else run.work_dir

    @abstractmethod
    def examine(self, source: str) -> tuple[bool, int]:
        """Whether the site path is a folder, and its size (NotFoundError if it is nothing)."""

    @abstractmethod
    def fetch_file(self, what: str, source: str, spool: Spool) -> None:
        """Download one file into ``spool`` (streamed, or written to ``spool.temp``)."""

    def download(self, run: Run, path: str, dest: Path, progress: Progress = NO_PROGRESS
                 ) -> Path:
        source = self._path(run, path)
        folder, size = self.examine(source)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / (PurePosixPath(source).name if relative_path(path) else run.id)
        if not folder:
            expect(progress, relative_path(path), size)  # refused before it is fetched
            with Spool(target, progress) as spool:  # no partial file if anything fails
                self.fetch_file(f"downloading {path}", source, spool)
            return target
        target.mkdir(exist_ok=True)
        for entry in self.list_files(run, path):  # every backend has it
            self.download(run, entry.path, target, progress)
        return target
