"""FirecREST v2 (``/firecrest/v2``): systems, compute (Slurm jobs) and filesystem operations:
``ops/`` for files up to ``max_ops_file_size``, ``transfer/`` for any size."""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import tornado.web

from .executors import SubmitError
from .files import Forbidden, confine_any, owner_group, permissions, remove
from .jobs import Job
from .server import SimHandler

PREFIX = "/firecrest/v2"
TRANSFER_METHODS = ("s3", "wormhole", "streamer")
VIEW_SIZE = 5 * 1024 * 1024  # what ops/view reads when not told


class FirecrestHandler(SimHandler):
    """Common parts: Bearer auth, ``F7T-AppVersion`` header, ApiResponseError bodies, paths."""

    def set_default_headers(self) -> None:
        """Every answer names the API version, as pyfirecrest expects."""
        self.set_header("F7T-AppVersion", self.application.settings["app_version"])

    def error_body(self, status: int, message: str) -> dict:
        """FirecREST's ApiResponseError."""
        return {"errorType": "error", "message": message, "data": None, "user": None}

    def invalid(self, message: str) -> None:
        """A request body that does not fit the model: 422, ``errorType`` validation."""
        self.send_json(422, {**self.error_body(422, message), "errorType": "validation"})
        raise tornado.web.Finish()

    @property
    def max_ops(self) -> int:
        """The largest file the ``ops/`` endpoints move (``max_ops_file_size``)."""
        return self.site.config.max_ops_file_size

    def system(self, name: str) -> str:
        """A configured system name, or 404."""
        if name not in self.site.config.systems:
            self.fail(404, f"System '{name}' not found")
        return name

    def path(self, system: str, path: str | None = None) -> Path:
        """An absolute path inside the system's file systems (query ``path`` by default).

        Paths outside are refused with 403, like a user without permission on the cluster.
        """
        raw = path if path is not None else self.get_query_argument("path", None)
        if not raw:
            self.fail(400, "Missing required parameter 'path'")
        try:
            return confine_any(list(self.site.filesystems(self.system(system)).values()), raw)
        except Forbidden:
            self.fail(403, f"Permission denied: '{raw}' is outside the user's file systems")

    def existing(self, system: str) -> Path:
        """Like ``path``, and 404 ``No such file or directory`` when it does not exist."""
        target = self.path(system)
        if not target.exists() and not target.is_symlink():
            self.fail(404, f"cannot access '{target}': No such file or directory")
        return target

    def flag(self, name: str) -> bool:
        """A boolean query parameter."""
        return self.get_query_argument(name, "false").lower() in ("true", "1", "yes")

    def int_arg(self, name: str) -> int | None:
        """An integer query parameter (``+N`` allowed), or 400 naming it."""
        value = self.get_query_argument(name, None)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except ValueError:
            self.fail(400, f"Parameter '{name}' must be an integer, not {value!r}")


class Liveness(FirecrestHandler):
    """``/status/liveness/`` (no credentials needed)."""

    public = True

    def get(self) -> None:
        """Always alive."""
        self.send_json(200, {"healthcheckRuns": {}, "lastUpdate": int(time.time())})


class Systems(FirecrestHandler):
    """``/status/systems``."""

    def get(self) -> None:
        """Every simulated system, with its file systems."""
        systems = []
        for name in self.site.config.systems:
            fs = self.site.filesystems(name)
            systems.append({
                "name": name,
                "ssh": {"host": "127.0.0.1", "port": 22},
                "scheduler": {"type": "slurm", "version": "22.05", "connectionMode": "ssh"},
                "probing": {"intervalCheck": 120},
                "servicesHealth": [
                    {"serviceType": "scheduler", "healthy": True},
                    *({"serviceType": "filesystem", "healthy": True, "path": str(p)}
                      for p in fs.values()),
                ],
                "fileSystems": [
                    {"path": str(p), "dataType": kind, "defaultWorkDir": kind == "users"}
                    for kind, p in fs.items()
                ],
                "dataOperation": {"max_ops_file_size": self.max_ops,
                                  "datatransfer_jobs_directives": []},
            })
        self.send_json(200, {"systems": systems})


class Partitions(FirecrestHandler):
    """``/status/{system}/partitions`` from the executor (a real Slurm's ``sinfo``)."""

    def get(self, system: str) -> None:
        """Name, CPUs and node count of each partition."""
        self.system(system)
        self.send_json(200, {"partitions": [
            {"name": p["name"], "cpus": p["cpus"], "totalNodes": p["nodes"], "partition": ["UP"]}
            for p in self.site.partitions()
        ]})


class UserInfo(FirecrestHandler):
    """``/status/{system}/userinfo``."""

    def get(self, system: str) -> None:
        """The account jobs run under."""
        self.system(system)
        user = {"id": str(os.getuid()), "name": self.site.user}
        group = {"id": str(os.getgid()), "name": self.site.user}
        self.send_json(200, {"user": user, "group": group, "groups": [group]})


class Jobs(FirecrestHandler):
    """``/compute/{system}/jobs``: list and submit."""

    def get(self, system: str) -> None:
        """All jobs submitted to this system (one call for many runs)."""
        self.system(system)
        self.site.refresh()
        jobs = self.site.store.all("firecrest", system)
        self.send_json(200, {"jobs": [self.model(j, task) for j in jobs
                                      for task in (sorted(j.tasks) or [None])]})

    def model(self, job: Job, task: str | None = None) -> dict:
        """FirecREST's JobModel of a job, or of one task of a job array: ``123_4``, or
        ``123_[5-9%2]`` for the tasks Slurm has not split off yet (as squeue names them)."""
        now = time.time()
        record = job.task(task) if task is not None else {
            "state": job.state, "reason": job.reason, "exit_code": job.exit_code,
            "signal": job.signal, "start": job.start, "end": job.end}
        job_id = job.id if task is None else (
            f"{job.id}_{task}" if task.isdigit() else f"{job.id}_[{task}]")
        start, end = record["start"], record["end"]
        return {
            "jobId": job_id,
            "name": job.name,
            "status": {"state": record["state"], "stateReason": record["reason"],
                       "exitCode": record["exit_code"], "interruptSignal": record["signal"]},
            "time": {
                "elapsed": int((end or now) - start) if start else 0,
                # Slurm's StartTime: when a pending --begin job may start, else when it did
                "start": int(start or job.begin) if start or job.begin else None,
                "end": int(end) if end else None,
                "limit": -(-job.time_limit // 60) if job.time_limit else None,
                "suspended": 0,
            },
            "account": None,
            "allocationNodes": 1,
            "cluster": job.system,
            "group": self.site.user,
            "nodes": "localhost" if start else "",
            "partition": job.partition or "",
            "priority": None,
            "killRequestUser": None,
            "user": self.site.user,
            "workingDirectory": job.workdir,
            "tasks": None,
        }

    def post(self, system: str) -> None:
        """Submit ``{"job": {...}}``; 201 ``{"jobId": "..."}``; 400 names what is wrong."""
        self.system(system)
        body = self.json_body()
        spec = body.get("job") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            self.fail(400, "body.job: field required (a JSON object describing the job)")
        job = self.build(system, spec)
        try:
            self.site.submit(job)
        except SubmitError as exc:
            self.fail(400, str(exc))
        self.send_json(201, {"jobId": job.id})

    def build(self, system: str, spec: dict) -> Job:
        """A Job from JobDescriptionModel (camelCase or snake_case keys)."""
        def get(name: str) -> Any:
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
            value = spec.get(name, spec.get(snake))
            if value is not None and not isinstance(value, str):
                self.fail(400, f"job.{name}: must be a string")
            return value

        workdir = get("workingDirectory")
        if not workdir:
            self.fail(400, "job.workingDirectory: field required")
        workdir_path = self.path(system, workdir)
        script, script_path = get("script"), get("scriptPath")
        if (script is None) == (script_path is None):
            self.fail(400, "job: exactly one of 'script' and 'scriptPath' is required")
        if script_path is not None:
            source = self.path(system, script_path)
            if not source.is_file():
                self.fail(400, f"job.scriptPath: '{script_path}': No such file or directory")
            script = source.read_text()
        env = spec.get("env", {})
        if isinstance(env, list) and all(isinstance(e, str) and "=" in e for e in env):
            env = dict(e.split("=", 1) for e in env)
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            self.fail(400, "job.env: must map variable names to string values")
        outputs = {}
        for key, default in (("standardOutput", "slurm-%j.out"), ("standardError", "")):
            value = get(key) or default
            outputs[key] = str(self.path(system, str(workdir_path / value))) if value else ""
        options = [f"--{opt}={get(key)}" for key, opt in
                   (("account", "account"), ("reservation", "reservation"),
                    ("constraints", "constraint")) if get(key)]
        if get("standardInput"):
            options.append(f"--input={self.path(system, str(workdir_path / get('standardInput')))}")
        return Job(
            id="", api="firecrest", system=system, workdir=str(workdir_path),
            script=str(self.site.write_script(script)), stdout=outputs["standardOutput"],
            stderr=outputs["standardError"], name=get("name") or "", env=env,
            partition=get("partition"), sbatch_options=options, description={"script": script},
        )


class JobResource(Jobs):
    """``/compute/{system}/jobs/{id}``: status and cancel."""

    def job(self, system: str, job_id: str) -> Job:
        """The job (of ``123_4``: its array), or 404 ``Job not found``."""
        self.system(system)
        self.site.refresh()
        array, _, task = job_id.partition("_")
        job = self.site.store.get(array, "firecrest", system)
        if job is None or (task and job.task(task) is None):
            self.fail(404, f"Job not found: {job_id}")
        return job

    def get(self, system: str, job_id: str) -> None:
        """``{"jobs": [JobModel]}``; an array's id: one per task, as squeue lists them."""
        job = self.job(system, job_id)
        task = job_id.partition("_")[2]
        tasks = [task] if task else (sorted(job.tasks) or [None])
        self.send_json(200, {"jobs": [self.model(job, t) for t in tasks]})

    def delete(self, system: str, job_id: str) -> None:
        """``scancel`` (of one array task for ``123_4``); 204."""
        job = self.job(system, job_id)
        task = job_id.partition("_")[2]
        if task:
            self.site.cancel_task(job, task)
        else:
            self.site.cancel(job)
        self.no_content()


class JobMetadata(JobResource):
    """``/compute/{system}/jobs/{id}/metadata``."""

    def get(self, system: str, job_id: str) -> None:
        """Script and output file names."""
        job = self.job(system, job_id)
        self.send_json(200, {"jobs": [{
            "jobId": job.id, "script": job.description.get("script"),
            "standardOutput": job.stdout, "standardError": job.stderr, "standardInput": None,
        }]})


def file_entry(path: Path) -> dict:
    """FirecREST's File model (``ls -l`` fields)."""
    st = path.lstat()
    user, group = owner_group(st)
    kind = "l" if path.is_symlink() else "d" if path.is_dir() else "-"
    return {
        "name": path.name, "type": kind, "user": user, "group": group,
        "permissions": permissions(st.st_mode), "size": str(st.st_size),
        "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime)),
        "linkTarget": os.readlink(path) if kind == "l" else None,
    }


class Ops(FirecrestHandler):
    """``/filesystem/{system}/ops/{op}``: small, immediate file operations."""

    def get(self, system: str, op: str) -> None:
        """ls, stat, head, tail, view, download, checksum."""
        handler = {"ls": self.ls, "stat": self.stat, "head": self.head_tail,
                   "tail": self.head_tail, "view": self.view, "download": self.download,
                   "checksum": self.checksum}.get(op)
        if handler is None:
            self.fail(405, f"GET is not allowed on ops/{op}")
        handler(system, op)

    def ls(self, system: str, _op: str) -> None:
        """Directory entries (or the file itself)."""
        target = self.existing(system)
        hidden = self.flag("showHidden")
        if target.is_dir():
            walk = target.rglob("*") if self.flag("recursive") else target.iterdir()
            entries = [p for p in sorted(walk) if hidden or not p.name.startswith(".")]
        else:
            entries = [target]
        self.send_json(200, {"output": [file_entry(p) for p in entries]})

    def stat(self, system: str, _op: str) -> None:
        """``os.stat`` fields."""
        target = self.existing(system)
        st = target.stat() if self.flag("dereference") else target.lstat()
        self.send_json(200, {"output": {
            "mode": st.st_mode, "ino": st.st_ino, "dev": st.st_dev, "nlink": st.st_nlink,
            "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "atime": int(st.st_atime),
            "ctime": int(st.st_ctime), "mtime": int(st.st_mtime),
        }})

    def readable(self, system: str) -> Path:
        """An existing regular file, else 400/404."""
        target = self.existing(system)
        if target.is_dir():
            self.fail(400, f"'{target}': Is a directory")
        return target

    def head_tail(self, system: str, op: str) -> None:
        """``head``/``tail`` by bytes or lines; ``skipHeading``/``skipTrailing`` as in coreutils."""
        target = self.readable(system)
        num_bytes, num_lines = self.int_arg("bytes"), self.int_arg("lines")
        if num_bytes is not None and num_lines is not None:
            self.fail(400, "Parameters 'bytes' and 'lines' cannot be combined")
        skip = self.flag("skipHeading" if op == "tail" else "skipTrailing")
        data = target.read_bytes()
        unit = "bytes" if num_bytes is not None else "lines"
        lines = data.splitlines(keepends=True) if unit == "lines" else []
        n = num_bytes if num_bytes is not None else 10 if num_lines is None else num_lines
        total = len(data) if unit == "bytes" else len(lines)
        if op == "tail":
            start = min(total, max(0, n - 1)) if skip else max(0, total - n)
            end = total
        else:
            start, end = 0, max(0, total - n) if skip else min(total, n)
        chunk = data[start:end] if unit == "bytes" else b"".join(lines[start:end])
        # as CSCS's server: the positions echo the request (head -c N / -c -N, tail -c -N /
        # -c +N), they are not offsets of what was read
        signed = -n if skip else n
        self.send_json(200, {"output": {
            "content": chunk.decode(errors="replace"), "contentType": unit,
            "startPosition": -signed if op == "tail" else 0,
            "endPosition": -1 if op == "tail" else signed,
        }})

    def view(self, system: str, _op: str) -> None:
        """``size`` bytes from ``offset`` as text; as CSCS's server, ``size`` is 5 MiB unless
        given, and refused above ``max_ops_file_size`` (so a bare view fails on Alps)."""
        target = self.readable(system)
        offset = self.int_arg("offset") or 0
        size = self.int_arg("size")
        size = VIEW_SIZE if size is None else size
        if offset < 0:
            self.fail(400, "`offset` value must be an integer value equal or greater than 0")
        if size <= 0:
            self.fail(400, "`size` value must be an integer value greater than 0")
        if size > self.max_ops:
            self.fail(400, f"`size` value must be less than {self.max_ops} bytes")
        with open(target, "rb") as fh:
            fh.seek(offset)
            self.send_json(200, {"output": fh.read(size).decode(errors="replace")})

    def download(self, system: str, _op: str) -> None:
        """The raw file, if small enough for a direct transfer."""
        target = self.readable(system)
        if target.stat().st_size > self.max_ops:
            self.fail(413, f"File to download is too large: '{target}' has more than "
                      f"{self.max_ops} bytes; use transfer/download")
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(target.read_bytes())

    def checksum(self, system: str, _op: str) -> None:
        """SHA-256 of a file."""
        digest = hashlib.sha256(self.readable(system).read_bytes()).hexdigest()
        self.send_json(200, {"output": {"algorithm": "SHA-256", "checksum": digest}})

    def post(self, system: str, op: str) -> None:
        """mkdir (JSON body) and upload (multipart ``file`` into directory ``path``)."""
        if op == "mkdir":
            body = self.json_body()
            raw = body.get("sourcePath", body.get("source_path", body.get("path")))
            if not isinstance(raw, str):
                self.fail(400, "body.sourcePath: field required")
            target = self.path(system, raw)
            parent = str(body.get("parent", False)).lower() == "true"
            if target.exists() and not parent:
                self.fail(400, f"cannot create directory '{raw}': File exists")
            try:
                target.mkdir(parents=parent, exist_ok=parent)
            except FileNotFoundError:
                self.fail(400, f"cannot create directory '{raw}': No such file or directory")
            self.send_json(201, {"output": file_entry(target)})
        elif op == "upload":
            files = self.request.files.get("file")
            if not files:
                self.fail(400, "body.file: field required (multipart/form-data)")
            directory = self.existing(system)
            target = self.path(system, str(directory / Path(files[0]["filename"]).name))
            if len(files[0]["body"]) > self.max_ops:
                self.fail(413, f"File to upload is too large: more than {self.max_ops} bytes; "
                          "use transfer/upload")
            target.write_bytes(files[0]["body"])
            self.no_content()
        else:
            self.fail(405, f"POST is not allowed on ops/{op}")

    def put(self, system: str, op: str) -> None:
        """chmod (JSON body: the path and an octal mode)."""
        if op != "chmod":
            self.fail(405, f"PUT is not allowed on ops/{op}")
        body = self.json_body()
        raw = body.get("sourcePath", body.get("path"))
        mode = body.get("mode")
        if not isinstance(raw, str) or not isinstance(mode, str) or \
                not re.fullmatch(r"[0-7]{3,4}", mode):
            self.fail(400, "body: sourcePath and an octal mode (e.g. '700') are required")
        target = self.path(system, raw)
        if not target.exists():
            self.fail(404, f"cannot access '{raw}': No such file or directory")
        target.chmod(int(mode, 8))
        self.send_json(200, {"output": file_entry(target)})

    def delete(self, system: str, op: str) -> None:
        """rm (recursive)."""
        if op != "rm":
            self.fail(405, f"DELETE is not allowed on ops/{op}")
        target = self.existing(system)
        if target in self.site.filesystems(system).values():
            self.fail(403, f"Permission denied: '{target}' cannot be removed")
        remove(target)
        self.no_content()


class Transfer(FirecrestHandler):
    """``/filesystem/{system}/transfer/{upload,download}``: files of any size, through the
    staging object store (presigned URLs) and a transfer job on the batch system."""

    def post(self, system: str, op: str) -> None:
        """201 ``{transferJob, transferDirectives}``; 422/400/403/404 name what is wrong."""
        self.system(system)
        body = self.json_body()
        if not isinstance(body, dict):
            self.invalid("body: a JSON object is required")
        raw = _first(body, "path", "sourcePath", "source_path")
        if not isinstance(raw, str) or not raw:
            self.invalid("body.sourcePath: field required (the absolute path of the file)")
        directives = _first(body, "transferDirectives", "transfer_directives")
        if not isinstance(directives, dict):
            self.invalid('body.transferDirectives: field required, e.g. {"transferMethod": "s3"}')
        method = _first(directives, "transferMethod", "transfer_method")
        if method not in TRANSFER_METHODS:
            self.invalid(f"body.transferDirectives.transferMethod: {method!r} is not one of "
                         f"{', '.join(TRANSFER_METHODS)}")
        if method != "s3":
            self.fail(400, "Requested transfer method is not available. This system offers: s3")
        if op == "upload":
            self.upload(system, raw, directives)
        else:
            self.download(system, raw)

    def upload(self, system: str, raw: str, directives: dict) -> None:
        """Parts' PUT URLs and the complete URL; the job moves the object to ``raw``."""
        size = _first(directives, "fileSize", "file_size")
        if isinstance(size, str) and size.isdigit():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            self.invalid("body.transferDirectives.fileSize: the file's size in bytes (an "
                         "integer of at least 0) is required for an s3 upload")
        target = self.path(system, raw)
        key = f"{uuid.uuid4().hex}/{target.name}"
        urls = self.multipart(key, size)
        store, bucket = self.site.objects, self.bucket
        job = self.transfer_job(system, "IngressFileTransfer", {
            "direction": "ingress", "target": str(target), "part_size": self.part_size,
            "head_url": store.presign(self.base_url, "HEAD", bucket, key),
            "get_url": store.presign(self.base_url, "GET", bucket, key), "wait": store.ttl,
        })
        self.send_json(201, {"transferJob": job, "transferDirectives": {
            "transferMethod": "s3", "partsUploadUrls": urls["part_urls"],
            "completeUploadUrl": urls["complete_url"], "maxPartSize": self.part_size,
        }})

    def download(self, system: str, raw: str) -> None:
        """The object's GET URL; the job uploads ``raw`` into it in parts."""
        source = self.path(system, raw)
        if not source.exists():
            self.fail(404, f"cannot access '{raw}': No such file or directory")
        if source.is_dir():
            self.fail(400, f"'{raw}': Is a directory")
        key = f"{source.name}_{uuid.uuid4().hex}"
        urls = self.multipart(key, source.stat().st_size)
        job = self.transfer_job(system, "OutgressFileTransfer", {
            "direction": "egress", "source": str(source), "part_size": self.part_size, **urls})
        download_url = self.site.objects.presign(self.base_url, "GET", self.bucket, key)
        self.send_json(201, {"transferJob": job, "transferDirectives": {
            "transferMethod": "s3", "downloadUrl": download_url}})

    @property
    def part_size(self) -> int:
        """The object store's part size (``maxPartSize``)."""
        return self.site.config.max_part_size

    @property
    def bucket(self) -> str:
        """One bucket per user, as FirecREST makes them."""
        return self.site.user

    @property
    def base_url(self) -> str:
        """The object store's public URL: this server, as the client reached it."""
        return f"{self.request.protocol}://{self.request.host}"

    def multipart(self, key: str, size: int) -> dict:
        """Start a multipart upload of ``key``: its parts' PUT URLs and its complete URL."""
        store, bucket = self.site.objects, self.bucket
        upload_id = store.create_upload(bucket, key)
        parts = max(1, math.ceil(size / self.part_size))
        return {
            "part_urls": [store.presign(self.base_url, "PUT", bucket, key, partNumber=str(n),
                                        uploadId=upload_id) for n in range(1, parts + 1)],
            "complete_url": store.presign(self.base_url, "POST", bucket, key,
                                          uploadId=upload_id),
        }

    def transfer_job(self, system: str, name: str, plan: dict) -> dict:
        """Submit the transfer job (``mantik_jupyter.sim.xfer``) and describe it (TransferJob)."""
        workdir = self.site.filesystems(system)["users"]
        unique = uuid.uuid4().hex
        logs = {"outputLog": str(workdir / f".f7t_file_handling_job_{unique}.log"),
                "errorLog": str(workdir / f".f7t_file_handling_job_error_{unique}.log")}
        plan_file = self.site.objects.write_plan(plan)
        script = (f"#!/bin/bash\nexec {shlex.quote(sys.executable)} -m mantik_jupyter.sim.xfer "
                  f"{shlex.quote(str(plan_file))}\n")
        job = Job(id="", api="firecrest", system=system, workdir=str(workdir),
                  script=str(self.site.write_script(script)), stdout=logs["outputLog"],
                  stderr=logs["errorLog"], name=name,
                  env={"PATH": "/bin:/usr/bin:/usr/local/bin"},
                  sbatch_options=["--input=/dev/null"], description={"script": script})
        try:
            self.site.submit(job)
        except SubmitError as exc:
            plan_file.unlink(missing_ok=True)
            self.fail(400, f"The transfer job was refused by the scheduler: {exc}")
        return {"jobId": job.id, "system": system, "workingDirectory": str(workdir),
                "logs": logs}


def _first(mapping: dict, *names: str) -> Any:
    """The value of the first of ``names`` present (camelCase or snake_case keys)."""
    return next((mapping[n] for n in names if n in mapping), None)


def routes() -> list[tuple[str, type]]:
    """URL patterns of the FirecREST v2 API."""
    return [
        (f"{PREFIX}/status/liveness/?", Liveness),
        (f"{PREFIX}/status/systems/?", Systems),
        (f"{PREFIX}/status/([^/]+)/partitions/?", Partitions),
        (f"{PREFIX}/status/([^/]+)/userinfo/?", UserInfo),
        (f"{PREFIX}/compute/([^/]+)/jobs/?", Jobs),
        # an array task is ARRAY_INDEX, as in squeue
        (f"{PREFIX}/compute/([^/]+)/jobs/([A-Za-z0-9]+(?:_[0-9]+)?)/?", JobResource),
        (f"{PREFIX}/compute/([^/]+)/jobs/([A-Za-z0-9]+(?:_[0-9]+)?)/metadata/?", JobMetadata),
        (f"{PREFIX}/filesystem/([^/]+)/ops/([a-z]+)/?", Ops),
        (f"{PREFIX}/filesystem/([^/]+)/transfer/(upload|download)/?", Transfer),
    ]

