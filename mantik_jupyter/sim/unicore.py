"""UNICORE REST core (``/SITE/rest/core``): jobs and their working-directory storages."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import tornado.web
from tornado.ioloop import IOLoop

from .executors import SubmitError, job_environment
from .files import (
    Forbidden,
    confine,
    iso_time,
    owner_group,
    parse_range,
    permissions,
    read_range,
    remove,
)
from .jobs import Job, parse_duration
from .s3store import CHUNK
from .server import SimHandler, StreamedBody
from .site import Site

#: Resources keys and the sbatch option each becomes (Runtime and Queue are handled apart).
RESOURCE_OPTIONS = {
    "Nodes": "--nodes",
    "CPUsPerNode": "--cpus-per-task",
    "TotalCPUs": "--ntasks",
    "GPUsPerNode": "--gpus-per-node",
    "Memory": "--mem",
    "Reservation": "--reservation",
    "NodeConstraints": "--constraint",
    "QoS": "--qos",
}
#: Seconds a login-node precommand may run.
PRECOMMAND_TIMEOUT = 300


class UnicoreHandler(SimHandler):
    """Common parts of the UNICORE routes: Basic or Bearer auth, ``errorMessage`` errors, URLs."""

    allow_basic = True

    def error_body(self, status: int, message: str) -> dict:
        """UNICORE's error document."""
        return {"errorMessage": message, "status": status}

    @property
    def base(self) -> str:
        """This site's REST base URL as the client reached it."""
        return f"{self.request.protocol}://{self.request.host}/{self.site.config.site}/rest/core"

    def job(self, job_id: str) -> Job:
        """The UNICORE job ``job_id`` (after a status refresh), or 404."""
        self.site.refresh()
        job = self.site.store.get(job_id, "unicore")
        if job is None:
            self.fail(404, f"Job '{job_id}' not found")
        return job

    def job_url(self, job: Job) -> str:
        """The job's resource URL."""
        return f"{self.base}/jobs/{job.id}"


class Root(UnicoreHandler):
    """``GET BASE``: who the caller is and where the jobs and storages are."""

    def get(self) -> None:
        """The site's root document."""
        user, group = self.site.user, self.site.user
        self.send_json(200, {
            "client": {
                "dn": f"UID={self.site.config.username}",
                "role": {"selected": "user", "availableRoles": ["user"]},
                "xlogin": {"UID": user, "group": group, "availableUIDs": [user],
                           "availableGroups": [group]},
            },
            "server": {"version": "10.1.0", "name": self.site.config.site},
            "_links": {name: {"href": f"{self.base}/{name}"} for name in ("jobs", "storages")},
        })


class Jobs(UnicoreHandler):
    """``BASE/jobs``: list (paging, tag filter) and create."""

    def get(self) -> None:
        """``{"jobs": [url, ...]}``; ``tags=a,b`` keeps jobs carrying all of those tags."""
        tags = [t for t in self.get_query_argument("tags", "").split(",") if t]
        offset = int(self.get_query_argument("offset", "0"))
        num = int(self.get_query_argument("num", "200"))
        jobs = [j for j in self.site.store.all("unicore") if set(tags) <= set(j.tags)]
        self.send_json(200, {"jobs": [self.job_url(j) for j in jobs[offset:offset + num]]})

    def post(self) -> None:
        """Create a job and its working directory; 201 with ``Location``."""
        description = self.json_body()
        try:
            job = build_job(self.site, description)
        except ValueError as exc:
            self.fail(400, f"Invalid job description: {exc}")
        # owner-only, as UNICORE/X makes job directories with its default umask 077
        Path(job.workdir).mkdir(parents=True, mode=0o700)
        job.note(f"Created with ID {job.id}")
        self.site.store.save(job)
        if str(description.get("haveClientStageIn", "false")).lower() != "true":
            start(self.site, job)
        self.set_header("Location", self.job_url(job))
        self.set_status(201)
        self.finish()


def build_job(site: Site, description: Any) -> Job:
    """A Job from a UNICORE job description; ValueError names the key that is wrong."""
    if not isinstance(description, dict):
        raise ValueError("the job description must be a JSON object")
    job_type = str(description.get("Job type", "batch")).lower()
    if job_type not in ("batch", "raw"):
        raise ValueError(f"'Job type' {job_type!r} is not supported here (allowed: batch, raw)")
    if job_type == "batch" and not isinstance(description.get("Executable"), str):
        raise ValueError("'Executable' must be given as a string")
    if job_type == "raw" and not isinstance(description.get("BSS file"), str):
        raise ValueError("'BSS file' must name the batch script for 'Job type' raw")
    args = description.get("Arguments", [])
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) for a in args):
        raise ValueError("'Arguments' must be a list of strings")
    for key in ("Name", "Stdout", "Stderr", "User precommand", "User postcommand", "Project"):
        if key in description and not isinstance(description[key], str):
            raise ValueError(f"'{key}' must be a string")
    tags = description.get("Tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("'Tags' must be a list of strings")
    job_id = str(uuid.uuid4())
    workdir = site.unicore_dir / job_id
    outputs = {}
    for key, default in (("Stdout", "stdout"), ("Stderr", "stderr")):
        try:
            outputs[key] = str(confine(workdir, description.get(key, default)))
        except Forbidden:
            raise ValueError(f"'{key}' must stay inside the job directory") from None
    if "Not before" in description:
        parse_not_before(description["Not before"])
    partition, time_limit, options = _resources(description.get("Resources", {}))
    if "Project" in description:
        options.append(f"--account={description['Project']}")
    return Job(
        id=job_id, api="unicore", system=site.config.site, workdir=str(workdir), script="",
        stdout=outputs["Stdout"], stderr=outputs["Stderr"], name=description.get("Name", ""),
        tags=tags, env=_environment(description.get("Environment", {})), partition=partition,
        time_limit=time_limit, sbatch_options=options, description=description,
    )


def _environment(env: Any) -> dict[str, str]:
    if isinstance(env, list) and all(isinstance(e, str) and "=" in e for e in env):
        return dict(e.split("=", 1) for e in env)
    if isinstance(env, dict) and all(re.fullmatch(r"[A-Za-z_]\w*", k) for k in env):
        return {k: str(v) for k, v in env.items()}
    raise ValueError("'Environment' must map variable names to values, or list 'NAME=value'")


def _resources(resources: Any) -> tuple[str | None, int | None, list[str]]:
    if not isinstance(resources, dict):
        raise ValueError("'Resources' must be a JSON object")
    unknown = sorted(set(resources) - set(RESOURCE_OPTIONS) - {"Runtime", "Queue", "Exclusive"})
    if unknown:
        allowed = sorted({*RESOURCE_OPTIONS, "Runtime", "Queue", "Exclusive"})
        raise ValueError(f"unknown Resources key(s) {unknown}; allowed: {allowed}")
    time_limit = None
    if "Runtime" in resources:
        try:
            time_limit = parse_duration(resources["Runtime"])
        except ValueError as exc:
            raise ValueError(f"Resources.Runtime: {exc}") from None
    options = [f"{RESOURCE_OPTIONS[k]}={v}" for k, v in resources.items() if k in RESOURCE_OPTIONS]
    if str(resources.get("Exclusive", "false")).lower() == "true":
        options.append("--exclusive")
    return resources.get("Queue"), time_limit, options


def batch_script(job: Job) -> str:
    """The batch script UNICORE writes for a ``batch`` job: pre, command line, post."""
    d = job.description
    command = " ".join([d["Executable"], *map(str, d.get("Arguments", []))])
    lines = ["#!/bin/bash -l", f"# UNICORE job {job.id}"]
    if d.get("User precommand") and not precommand_on_login_node(d):
        lines.append(d["User precommand"])
    lines.append(command)
    if d.get("User postcommand"):
        lines += ["_unicore_rc=$?", d["User postcommand"], "exit $_unicore_rc"]
    return "\n".join(lines) + "\n"


def precommand_on_login_node(description: dict) -> bool:
    """UNICORE runs 'User precommand' on the login node unless told otherwise."""
    return str(description.get("RunUserPrecommandOnLoginNode", "true")).lower() == "true"


def run_precommand(job: Job) -> str | None:
    """Run 'User precommand' in the job directory before submission (this machine is the login
    node); returns why it failed, or None."""
    try:
        proc = subprocess.run(
            ["bash", "-l", "-c", job.description["User precommand"]], cwd=job.workdir,
            env=job_environment(job), capture_output=True, text=True, timeout=PRECOMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"User precommand did not finish within {PRECOMMAND_TIMEOUT} s"
    job.note(f"User precommand on the login node exited with {proc.returncode}")
    if proc.returncode != 0:
        return f"User precommand failed with exit code {proc.returncode}: {proc.stderr[-500:]}"
    return None


#: Jobs whose login-node precommand runs (a second start meanwhile does nothing).
_PRECOMMANDS: set[str] = set()


def parse_not_before(value: Any, now: float | None = None) -> float:
    """Epoch seconds of a "Not before" as UNICORE reads it: ``HH:mm`` (the next such time),
    ``yyyy-MM-dd HH:mm`` (both in the server's zone) or ``yyyy-MM-dd'T'HH:mm:ssZ`` with an
    RFC-822 offset such as ``+0100``; ValueError otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M", "%H:%M"):
        if pattern.endswith("%z") and not re.fullmatch(r".*[+-]\d{4}", text):
            continue  # UNICORE takes no "Z" and no "+01:00"
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            return parsed.timestamp()
        if pattern == "%H:%M":
            today = datetime.fromtimestamp(now or time.time())
            parsed = today.replace(hour=parsed.hour, minute=parsed.minute, second=0,
                                   microsecond=0)
            if parsed.timestamp() <= (now or time.time()):
                parsed += timedelta(days=1)
        return parsed.timestamp()
    raise ValueError(f"'Not before' {value!r} is not a time: use HH:mm, yyyy-MM-dd HH:mm or "
                     "yyyy-MM-dd'T'HH:mm:ssZ (offset as +0100)")


def start(site: Site, job: Job) -> None:
    """Start a READY job (a second start does nothing): held until its "Not before" time
    (UNICORE/X keeps it READY, not Slurm), else submitted to the batch system now. A
    login-node precommand runs first, as UNICORE runs it: an asynchronous step after the
    start call has been answered (the job stays READY meanwhile), its failure failing it."""
    if job.state != "NEW" or job.held_until or job.id in _PRECOMMANDS:
        return
    if "Not before" in job.description:
        when = parse_not_before(job.description["Not before"])
        if when > time.time():
            job.held_until = when
            job.note(f"Further processing scheduled for {iso_time(when)}")
            site.store.save(job)
            return
    submit_now(site, job)


def release_due(site: Site) -> None:
    """Send held jobs whose "Not before" time has come to the batch system (UNICORE/X's
    action runner wakes them by itself, whoever is watching)."""
    for job in site.store.all("unicore"):
        if job.state == "NEW" and job.held_until and job.held_until <= time.time():
            job.note("Not before time reached")
            job.held_until = None  # released once: a login-node precommand may take a while
            submit_now(site, job)


def submit_now(site: Site, job: Job) -> None:
    """Run the login-node precommand, write the batch script, submit it."""
    if job.description.get("User precommand") and precommand_on_login_node(job.description):
        _PRECOMMANDS.add(job.id)
        IOLoop.current().spawn_callback(_after_precommand, site, job)
        return
    submit_batch(site, job)


async def _after_precommand(site: Site, job: Job) -> None:
    """Run the precommand off the server's loop, then submit the job or fail it."""
    try:
        failure = await IOLoop.current().run_in_executor(None, run_precommand, job)
    finally:
        _PRECOMMANDS.discard(job.id)
    if job.state != "NEW":  # aborted (or removed) meanwhile
        return
    if failure:
        site.fail_submission(job, SubmitError(failure))
    else:
        submit_batch(site, job)


def submit_batch(site: Site, job: Job) -> None:
    """Hand a started job's script to the batch system."""
    if job.description.get("Job type", "batch").lower() == "raw":
        try:
            text = confine(Path(job.workdir), job.description["BSS file"]).read_text()
        except (Forbidden, OSError) as exc:
            site.fail_submission(job, SubmitError(f"cannot read 'BSS file': {exc}"))
            return
    else:
        text = batch_script(job)
    job.script = str(site.write_script(text))
    try:
        site.submit(job)
    except SubmitError as exc:
        site.fail_submission(job, exc)


def unicore_status(job: Job, stageout_seconds: float) -> str:
    """UNICORE's status of a job, mapped from Slurm's state as UNICORE does."""
    if job.state == "NEW":
        return "READY"
    if job.state in ("RUNNING", "COMPLETING", "SUSPENDED"):
        return "RUNNING"
    if not job.finished:
        return "QUEUED"
    if job.native_id and time.time() - (job.terminal_seen or 0) < stageout_seconds:
        return "STAGINGOUT"
    return "SUCCESSFUL" if job.state == "COMPLETED" and job.exit_code == 0 else "FAILED"


def status_message(job: Job) -> str:
    """Why a job ended the way it did, in words."""
    if not job.finished or job.state == "COMPLETED" and job.exit_code == 0:
        return ""
    if job.reason and job.reason.startswith("Submission failed"):
        return job.reason
    return {
        "CANCELLED": "Job was aborted (Slurm state CANCELLED)",
        "TIMEOUT": "Job exceeded its time limit (Slurm state TIMEOUT)",
        "NODE_FAIL": "Node failure (Slurm state NODE_FAIL)",
    }.get(job.state) or (
        f"Job was killed by signal {job.signal} (Slurm state {job.state})" if job.signal
        else f"Job failed with exit code {job.exit_code} (Slurm state {job.state})"
    )


class JobResource(UnicoreHandler):
    """``BASE/jobs/{id}``: properties and delete."""

    def get(self, job_id: str) -> None:
        """The job's properties (``exitCode`` a string, present once the script exited)."""
        job = self.job(job_id)
        doc = {
            "status": unicore_status(job, self.site.config.stageout_seconds),
            "statusMessage": status_message(job),
            "log": job.log,
            "submissionTime": iso_time(job.submitted),
            "queue": job.partition or "N/A",
            "batchSystemID": job.native_id or "N/A",
            "name": job.name,
            "tags": job.tags,
            "owner": f"UID={self.site.config.username}",
            "_links": {
                "self": {"href": self.job_url(job)},
                "action:start": {"href": f"{self.job_url(job)}/actions/start"},
                "action:abort": {"href": f"{self.job_url(job)}/actions/abort"},
                "workingDirectory": {"href": f"{self.base}/storages/{job.id}-uspace"},
            },
        }
        if job.finished and job.exit_code is not None and not job.signal and job.state in (
            "COMPLETED", "FAILED"
        ):
            doc["exitCode"] = str(job.exit_code)
        self.send_json(200, doc)

    def delete(self, job_id: str) -> None:
        """Abort if needed, remove the job and its working directory."""
        self.site.delete(self.job(job_id))
        self.no_content()


class JobAction(UnicoreHandler):
    """``BASE/jobs/{id}/actions/{start|abort}``."""

    def post(self, job_id: str, action: str) -> None:
        """Start a READY job or abort a queued/running one."""
        job = self.job(job_id)
        if action == "start":
            start(self.site, job)
        else:
            self.site.cancel(job)
        self.no_content()


class Storages(UnicoreHandler):
    """``BASE/storages``: job working directories (with ``filter=all``)."""

    def get(self) -> None:
        """Only job directories exist on this site, listed when asked for all."""
        jobs = self.site.store.all("unicore") if self.get_query_argument("filter", "") else []
        self.send_json(200, {"storages": [f"{self.base}/storages/{j.id}-uspace" for j in jobs]})


class StorageHandler(UnicoreHandler):
    """A job's working directory seen as a storage."""

    def workdir(self, job_id: str) -> Path:
        """The job's folder (404 for unknown jobs)."""
        return Path(self.job(job_id).workdir)


class StorageResource(StorageHandler):
    """``BASE/storages/{id}-uspace``."""

    def get(self, job_id: str) -> None:
        """Always READY; files are under ``_links.files``."""
        url = f"{self.base}/storages/{job_id}-uspace"
        self.send_json(200, {
            "resourceStatus": "READY",
            "mountPoint": str(self.workdir(job_id)),
            "description": "Job's workspace",
            "protocols": ["BFT"],
            "_links": {"self": {"href": url}, "files": {"href": f"{url}/files"}},
        })


class Files(StreamedBody, StorageHandler):
    """``.../files/{path}``: metadata or listing (JSON), raw bytes with Range, upload, mkdir, rm."""

    def target(self, job_id: str, path: str | None) -> tuple[Path, Path]:
        """(job folder, resolved path inside it); 403 for paths that escape."""
        base = self.workdir(job_id)
        try:
            return base, confine(base, (path or "/").lstrip("/"))
        except Forbidden:
            self.fail(403, f"Access denied: '{path}' is outside the job directory")

    def fail(self, status: int, message: str) -> None:
        """Raw downloads get an empty error body: the client would store any body as data."""
        if "application/octet-stream" in self.request.headers.get("Accept", ""):
            self.set_status(status)
            self.finish()
            raise tornado.web.Finish()
        super().fail(status, message)

    async def get(self, job_id: str, path: str | None) -> None:
        """JSON properties (directories list ``content``), or bytes for octet-stream."""
        base, target = self.target(job_id, path)
        if not target.exists():
            self.fail(404, f"File '{path}' not found")
        if "application/octet-stream" in self.request.headers.get("Accept", ""):
            await self.send_bytes(target)
            return
        doc = self.properties(target)
        if target.is_dir():
            doc["content"] = {
                "/" + str(child.relative_to(base)) + ("/" if child.is_dir() else ""):
                    self.properties(child)
                for child in sorted(target.iterdir())
            }
        self.send_json(200, doc)

    @staticmethod
    def properties(path: Path) -> dict:
        """UNICORE's file properties."""
        st = path.stat()
        owner, group = owner_group(st)
        return {"isDirectory": path.is_dir(), "size": st.st_size, "owner": owner,
                "group": group, "permissions": permissions(st.st_mode),
                "lastAccessed": iso_time(st.st_mtime), "metadata": {}}

    async def send_bytes(self, target: Path) -> None:
        """Whole file (200, streamed in chunks as a real server does) or the requested
        range (206; empty at or after end of file)."""
        size = target.stat().st_size
        self.set_header("Content-Type", "application/octet-stream")
        header = self.request.headers.get("Range")
        if not header:
            self.set_header("Content-Length", str(size))
            with open(target, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    self.write(chunk)
                    await self.flush()
            self.finish()
            return
        try:
            first, last = parse_range(header, size)
        except ValueError as exc:
            self.fail(416, str(exc))
        data = read_range(target, first, last) if first < size else b""
        self.set_status(206)
        if data:
            self.set_header("Content-Range", f"bytes {first}-{first + len(data) - 1}/{size}")
        self.finish(data)

    def put(self, job_id: str, path: str | None) -> None:
        """Write the body to the file, creating parent folders."""
        base, target = self.target(job_id, path)
        if target == base or target.is_dir():
            self.fail(400, f"'{path}' is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.received())
        self.no_content()

    def post(self, job_id: str, path: str | None) -> None:
        """Create a directory (and its parents)."""
        _, target = self.target(job_id, path)
        target.mkdir(parents=True, exist_ok=True)
        self.set_header("Location", self.request.full_url())
        self.set_status(201)
        self.finish()

    def delete(self, job_id: str, path: str | None) -> None:
        """Remove a file or a whole directory (never the job folder itself)."""
        base, target = self.target(job_id, path)
        if target == base:
            self.fail(403, "The job directory itself cannot be deleted here")
        if not target.exists():
            self.fail(404, f"File '{path}' not found")
        remove(target)
        self.no_content()


def routes(site_name: str) -> list[tuple[str, type]]:
    """URL patterns of the UNICORE REST core for ``site_name``."""
    base = f"/{re.escape(site_name)}/rest/core"
    return [
        (f"{base}/?", Root),
        (f"{base}/jobs/?", Jobs),
        (f"{base}/jobs/([^/]+)/?", JobResource),
        (f"{base}/jobs/([^/]+)/actions/(start|abort)", JobAction),
        (f"{base}/storages/?", Storages),
        (f"{base}/storages/([^/]+)-uspace/?", StorageResource),
        (f"{base}/storages/([^/]+)-uspace/files(/.*)?", Files),
    ]
