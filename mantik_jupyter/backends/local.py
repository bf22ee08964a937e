"""The ``local`` site: the job runs detached on this machine, in its own run folder.

The run folder is ``$MANTIK_JUPYTER_HOME/runs/<run id>``: the bundle, the job log and the
wrapper's records (``.mantik-job/``). The job survives the submitting process and a
Jupyter restart; its state is recovered from those records when next observed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from .. import data, jobenv
from ..errors import BackendError, ConfigError, ConflictError, NotFoundError
from ..jobscript import TASK_STATE_DIR, TaskState, array_runner, render, task_states
from ..paths import confined, copy_out, write_atomic
from ..progress import NO_PROGRESS, Progress
from ..spec import RunSpec
from ..states import RunState
from ..store import Run, now
from . import (
    LOG_FILE,
    ArraySubmission,
    Backend,
    Capabilities,
    FileEntry,
    JobRequest,
    JobStatus,
    Submission,
    all_ended,
    task_status,
    wait_terminal,
)
from .local_job import BEGIN, KILL_GRACE, META, kill_session

SCRIPT = "mantik-job.sh"
TASK_SCRIPT = "mantik-task.sh"
CANCEL_MARK = "cancel.json"


class LocalBackend(Backend):
    """Runs jobs as local processes under :mod:`mantik_jupyter.backends.local_job`."""

    kind = "local"
    title = "Local"
    # the detached wrapper waits for the begin time itself (it outlives the submitter)
    capabilities = Capabilities(deferred_start=True, job_arrays=True)

    @property
    def runs_dir(self) -> Path:
        path = self.home / "runs"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def run_dir(self, run: Run) -> Path:
        return Path(run.work_dir) if run.work_dir else self.runs_dir / run.id

    def validate(self, spec: RunSpec) -> None:
        super().validate(spec)
        env = spec.environment
        if env.get("Modules") and not shutil.which("modulecmd") and not os.environ.get(
            "MODULESHOME"
        ):
            raise ConfigError(
                "Environment.Modules: this machine has no environment modules; "
                "remove Modules or choose an HPC site",
                key="Environment.Modules",
            )
        if env.get("Apptainer") and not shutil.which("apptainer"):
            raise ConfigError(
                "Environment.Apptainer: apptainer is not installed on this machine",
                key="Environment.Apptainer",
            )

    def check(self) -> str:
        if importlib.util.find_spec("papermill") is None:
            raise BackendError("papermill is not installed in this environment")
        probe = self.runs_dir / ".write-check"
        try:
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise BackendError(f"cannot write to {self.runs_dir}: {exc.strerror}") from None
        return f"runs as local processes in {self.runs_dir}"

    def submit(self, job: JobRequest) -> Submission:
        job.progress.phase("submitting")
        run_dir = self.runs_dir / job.run_id
        os.replace(job.bundle.path, run_dir)
        try:
            job.bundle.copy_project(run_dir)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        script = render(job.spec, job.bundle.command, login_shell=False,
                        before_main=self._data_lines(run_dir, job.spec))
        return self._start(run_dir, job, script)

    def _data_lines(self, run_dir: Path, spec: RunSpec) -> list[str]:
        """The job's lines that stage its ``Data`` before the notebook (this machine has the
        network), its staging files written into ``run_dir``."""
        if not spec.data:
            return []
        folder = self.site.settings.get(data.CACHE_KEY) or str(self.home / "data-cache")
        for name, content in data.files(spec, folder).items():
            (run_dir / name).write_bytes(content)
        return data.job_lines(folder, True, bool(self.site.settings.get(data.READ_ONLY_KEY)))

    def submit_array(self, job: JobRequest, points: list[int]) -> ArraySubmission:
        """The tasks as processes of one wrapper, at most MaxConcurrent at once (the
        ``%K`` of ``job.array``), in a copy of the bundle the sweep's arrays share."""
        run_dir = self.runs_dir / job.run_id
        shutil.copytree(job.bundle.path, run_dir)
        try:
            job.bundle.copy_project(run_dir)
            (run_dir / TASK_SCRIPT).write_text(render(
                job.spec, job.main_command, login_shell=False,
                before_main=self._data_lines(run_dir, job.spec)))
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        _, _, limit = (job.array or "").partition("%")
        script = array_runner(TASK_SCRIPT, len(points), int(limit) if limit else None)
        return self.array_submission(self._start(run_dir, job, script), points)

    def _start(self, run_dir: Path, job: JobRequest, script: str) -> Submission:
        """Write the script and start the detached wrapper on it in ``run_dir``."""
        (run_dir / META).mkdir(mode=0o700)
        script_path = run_dir / SCRIPT
        script_path.write_text(script)
        env = {**jobenv.inherited(os.environ), **job.env, **job.secret_env}
        # The job finds papermill and the kernel of the environment mantik-jupyter runs in.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        runtime = job.spec.runtime_seconds
        if job.begin:
            write_atomic(run_dir / META / BEGIN, json.dumps({"begin": job.begin.isoformat()}))
        with open(run_dir / LOG_FILE, "ab", buffering=0) as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mantik_jupyter.backends.local_job", str(run_dir),
                 SCRIPT, str(runtime or ""), str(job.begin.timestamp() if job.begin else "")],
                cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            )
        # Reap the wrapper if this process outlives it (a server); harmless in a CLI.
        threading.Thread(target=proc.wait, daemon=True).start()
        start_time = _start_time(proc.pid)
        write_atomic(run_dir / META / "pid.json",
                     json.dumps({"pid": proc.pid, "start_time": start_time}))
        return Submission(str(proc.pid), str(run_dir), script, bytes_uploaded=0)

    def find(self, run: Run) -> Submission | None:
        run_dir = self.runs_dir / run.id
        started = _read(run_dir / META / "pid.json") or _read(run_dir / META / "started.json")
        if started is None:  # the wrapper never ran: only the moved bundle is left
            shutil.rmtree(run_dir, ignore_errors=True)
            return None
        return Submission(str(started["pid"]), str(run_dir), (run_dir / SCRIPT).read_text())

    def status(self, runs: list[Run]) -> dict[str, JobStatus]:
        result = {}
        arrays: dict[Path, tuple[JobStatus, dict[int, TaskState]]] = {}
        for run in runs:
            if run.point is None:
                result[run.id] = self._status(self.run_dir(run))
                continue
            # a sweep point: its array's wrapper and its task's state files, read once
            array = self.run_dir(run).parent.parent
            if array not in arrays:
                arrays[array] = (self._status(array),
                                 task_states(_files_modified(array / TASK_STATE_DIR)))
            result[run.id] = task_status(*arrays[array], run.point)
        return result

    def cancel_points(self, runs: list[Run]) -> None:
        """End each array's wrapper (all its tasks) once."""
        arrays = {self.run_dir(r).parent.parent for r in runs if r.point is not None}
        for array in sorted(arrays):
            if not (array / META / "exit.json").exists():
                self._cancel(array, array.name)
        wait_terminal(lambda: all_ended(self.status(runs)), timeout=KILL_GRACE + 5)

    def _status(self, run_dir: Path) -> JobStatus:
        meta = run_dir / META
        alive = self._alive(meta)  # before reading exit.json: the wrapper writes it, then ends
        ended = _read(meta / "exit.json")
        started = _read(meta / "started.json")
        started_at = started.get("started_at") if started else None
        if ended:
            code = ended.get("exit_code")
            if ended.get("cancelled"):
                state, reason = RunState.CANCELLED, "cancelled by the user"
            elif ended.get("timed_out"):
                state, reason = RunState.TIMEOUT, "time limit reached"
            elif code == 0:
                state, reason = RunState.COMPLETED, None
            else:
                state, reason = RunState.FAILED, _exit_reason(code)
            return JobStatus(state, _native(state, code), reason, code, started_at,
                             ended.get("ended_at"))
        if alive:
            state = RunState.RUNNING if started else RunState.QUEUED
            begin = None if started else _read(meta / BEGIN)
            reason = f"starts at {begin['begin']}" if begin else None
            return JobStatus(state, state.value, reason, None, started_at)
        if not (meta / "pid.json").exists() and not started:
            return JobStatus(RunState.UNKNOWN, None, "the job was never started")
        if (meta / CANCEL_MARK).exists():  # killed before it could record the cancel
            return JobStatus(RunState.CANCELLED, RunState.CANCELLED.value,
                             "cancelled by the user", None, started_at, now())
        # Ended without a record: the machine restarted or the wrapper was killed hard.
        return JobStatus(
            RunState.FAILED, "LOST", "the job process ended without recording an exit code "
            "(was the machine restarted or the process killed?)", None, started_at, now(),
        )

    def _alive(self, meta: Path) -> bool:
        pid_info = _read(meta / "pid.json")
        if not pid_info:
            return False
        return _start_time(pid_info["pid"]) == pid_info.get("start_time")

    def cancel(self, run: Run) -> None:
        if run.point is not None:
            raise ConflictError(f"run {run.id} is one task of a sweep's local array, which "
                                f"is cancelled as a whole; cancel the sweep {run.sweep_id}",
                                key="run")
        self._cancel(self.run_dir(run), run.id)

    def _cancel(self, run_dir: Path, run_id: str) -> None:
        meta = run_dir / META
        if (meta / "exit.json").exists():
            raise ConflictError(f"run {run_id} has already ended", key="run")
        pid_info = _read(meta / "pid.json")
        if not pid_info or not self._alive(meta):
            raise ConflictError(f"run {run_id} is not running", key="run")
        pid = pid_info["pid"]
        # Marked first: a wrapper killed before its handler was installed still reads as
        # cancelled, never as lost.
        write_atomic(meta / CANCEL_MARK, json.dumps({"requested_at": now()}))
        os.kill(pid, signal.SIGTERM)
        wait_terminal(lambda: self._status(run_dir), timeout=KILL_GRACE + 5, pause=0.05)
        if not (meta / "exit.json").exists():  # the wrapper did not answer: end it all hard
            kill_session(pid, grace=0)
            write_atomic(meta / "exit.json", json.dumps({
                "exit_code": -signal.SIGKILL, "ended_at": now(), "cancelled": True,
                "timed_out": False}))

    def read_log(self, run: Run, offset: int, limit: int | None = None) -> bytes:
        path = self.run_dir(run) / LOG_FILE
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                return fh.read(-1 if limit is None else limit)
        except FileNotFoundError:
            return b""

    def list_files(self, run: Run, path: str = "") -> list[FileEntry]:
        root = self.run_dir(run)
        folder = confined(root, path)
        if not folder.is_dir():
            raise NotFoundError(f"no folder {path!r} in run {run.id}", key="path")
        entries = []
        for child in sorted(folder.iterdir()):
            if child.name == META or child.is_symlink():  # never followed by a download
                continue
            info = child.stat()
            entries.append(FileEntry(
                child.relative_to(root).as_posix(), child.is_dir(),
                0 if child.is_dir() else info.st_size,
                datetime.fromtimestamp(info.st_mtime, timezone.utc).isoformat(),
            ))
        return entries

    def download(self, run: Run, path: str, dest: Path, progress: Progress = NO_PROGRESS
                 ) -> Path:
        root = self.run_dir(run)
        source = confined(root, path)
        if not source.exists() or META in source.relative_to(root).parts:
            raise NotFoundError(f"no file {path!r} in run {run.id}", key="path")
        dest.mkdir(parents=True, exist_ok=True)
        copy = copy_out(source, dest / (source.name or run.id), frozenset({META}))
        files = [f for f in (copy.rglob("*") if copy.is_dir() else [copy]) if f.is_file()]
        progress.advance(sum(f.stat().st_size for f in files), files=len(files))
        return copy

    def delete(self, run: Run) -> None:
        shutil.rmtree(self.run_dir(run), ignore_errors=True)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _native(state: RunState, code: int | None) -> str:
    return f"{state.value} (exit {code})" if code is not None else state.value


def _files_modified(folder: Path) -> list[tuple[str, datetime]]:
    """Each file's name and modification time; none while the folder does not exist."""
    try:
        with os.scandir(folder) as entries:
            return [(e.name, datetime.fromtimestamp(e.stat().st_mtime, timezone.utc))
                    for e in entries]
    except FileNotFoundError:
        return []


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _start_time(pid: int) -> str | None:
    """The process start time from /proc (guards against a reused pid), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return fields[19]
