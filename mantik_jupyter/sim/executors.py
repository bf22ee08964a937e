"""The batch systems behind the gateways: a real Slurm, or local processes with Slurm's states."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .jobs import Job, expand_pattern


class SubmitError(Exception):
    """The batch system refused a job (the message is what it said)."""


@dataclass
class Status:
    """What the batch system says about one job, in Slurm's vocabulary."""

    state: str
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    start: float | None = None
    end: float | None = None
    #: a job array's tasks by index (``"2-5%2"``: the tasks Slurm has not split off yet)
    tasks: dict[str, Status] | None = None
    #: a pending job held by ``--begin``: when it may start (Slurm's StartTime)
    begin: float | None = None


ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED")


def array_status(tasks: dict[str, Status]) -> Status:
    """An array's state from its tasks' as UNICORE's TSI folds them: running while any task
    is, ended once all are (COMPLETED only if every task completed with exit code 0)."""
    states = [t.state for t in tasks.values()]
    starts = [t.start for t in tasks.values() if t.start]
    ends = [t.end for t in tasks.values() if t.end]
    if any(s in ACTIVE for s in states):
        running = any(s in ("RUNNING", "COMPLETING") for s in states)
        # all pending for one reason (BeginTime of a --begin array): the array's reason too
        reasons = {t.reason for t in tasks.values()}
        reason = None if running or len(reasons) != 1 else reasons.pop()
        begin = min((t.begin for t in tasks.values() if t.begin), default=None)
        return Status("RUNNING" if running else "PENDING", reason, None, None,
                      min(starts, default=None), None, tasks,
                      None if running else begin)
    codes = [t.exit_code or 0 for t in tasks.values()]
    if all(s == "COMPLETED" for s in states) and not any(codes):
        state = "COMPLETED"
    elif "CANCELLED" in states:
        state = "CANCELLED"
    else:
        state = "FAILED"
    return Status(state, None, max(codes, default=0), None, min(starts, default=None),
                  max(ends, default=None), tasks)


class Executor(Protocol):
    """What the gateways need from a batch system."""

    name: str

    def submit(self, job: Job) -> str:
        """Queue ``job`` (script, working dir, output files, env, limits); return its id."""

    def query(self, native_ids: list[str]) -> dict[str, Status]:
        """Current status of the given jobs (missing ids are unknown to the batch system)."""

    def cancel(self, native_id: str) -> None:
        """Cancel like ``scancel``: the job ends CANCELLED."""

    def kill(self, native_id: str) -> None:
        """Fault: SIGKILL the job's batch script from outside; the job ends FAILED."""

    def fail_node(self) -> None:
        """Fault: the compute node dies; running jobs end NODE_FAIL, the node comes back."""

    def partitions(self) -> list[dict]:
        """Partitions as ``{name, default, cpus, nodes, max_time}`` (max_time: minutes or None)."""

    def stop(self) -> None:
        """The simulator is shutting down."""


def job_environment(job: Job, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean login-like environment plus the job's own variables, never the simulator's."""
    user = pwd.getpwuid(os.getuid())
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "SHELL": "/bin/bash",
        "LANG": "C.UTF-8",
        **(extra or {}),
    }
    env.update(job.env)
    return env


def slurm_time(text: str) -> int:
    """Seconds from a Slurm time limit: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M:S``."""
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:
        parts += [0] * (3 - len(parts))
        h, m, s = parts
    elif len(parts) == 3:
        h, m, s = parts
    else:
        h, (m, s) = 0, (parts + [0])[:2]
    return ((int(days or 0) * 24 + h) * 60 + m) * 60 + s


_DIRECTIVE = re.compile(r"^#SBATCH\s+(--[\w-]+|-\w)(?:[=\s]\s*(\S+))?", re.MULTILINE)
_LONG = {"-J": "--job-name", "-t": "--time", "-p": "--partition"}


def script_directives(script: str) -> dict[str, str]:
    """``#SBATCH`` options of a batch script, short forms spelled long (``-t`` -> ``--time``)."""
    return {_LONG.get(opt, opt): value or "" for opt, value in _DIRECTIVE.findall(script)}


def _exit_signal(text: str) -> tuple[int | None, int | None]:
    code, _, sig = text.partition(":")
    return (int(code), int(sig or 0)) if code.isdigit() else (None, None)


def _slurm_timestamp(text: str | None) -> float | None:
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


class SlurmExecutor:
    """Jobs go to a real Slurm through sbatch/scontrol/scancel (SLURM_CONF from the config)."""

    name = "slurm"

    def __init__(self, slurm_conf: str | None = None) -> None:
        conf = slurm_conf or os.environ.get("SLURM_CONF")
        self._env = {"SLURM_CONF": conf} if conf else {}

    def _run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 30) -> str:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env or {**job_environment_base(), **self._env},
        )
        if proc.returncode != 0:
            raise SubmitError((proc.stderr or proc.stdout).strip() or f"{args[0]} failed")
        return proc.stdout

    def available(self) -> bool:
        """True when slurmctld answers (a missing slurm.conf is not waited for)."""
        conf = self._env.get("SLURM_CONF", "/etc/slurm/slurm.conf")
        if not shutil.which("scontrol") or not os.path.exists(conf):
            return False
        try:
            return "UP" in self._run("scontrol", "ping", timeout=10)
        except (SubmitError, subprocess.TimeoutExpired):
            return False

    def submit(self, job: Job) -> str:
        """Run sbatch; Slurm itself applies the script's ``#SBATCH`` lines."""
        args = ["sbatch", "--parsable", "--export=ALL", "--no-requeue", "-D", job.workdir,
                "-o", job.stdout]
        if job.stderr:
            args += ["-e", job.stderr]
        if job.name:
            args += ["-J", job.name]
        if job.partition:
            args += ["-p", job.partition]
        if job.time_limit:
            args += ["-t", str(-(-job.time_limit // 60))]
        args += [*job.sbatch_options, job.script]
        return self._run(*args, env=job_environment(job, self._env)).strip().split(";")[0]

    def query(self, native_ids: list[str]) -> dict[str, Status]:
        """One ``scontrol show job`` for all jobs; ``sacct -c`` for those it forgot."""
        wanted = set(native_ids)
        found: dict[str, Status] = {}
        arrays: dict[str, dict[str, Status]] = {}
        for line in self._run("scontrol", "show", "job", "-o").splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            status = self._status(
                fields.get("JobState", "UNKNOWN"), fields.get("Reason"),
                fields.get("ExitCode", ""), fields.get("StartTime"), fields.get("EndTime"))
            if status.state == "PENDING" and fields.get("Reason") == "BeginTime":
                # scontrol's StartTime of a job held by --begin is its begin time
                status.begin = _slurm_timestamp(fields.get("StartTime"))
            # an array's tasks are records of their own (ArrayJobId=the array's id); sacct
            # -c mixes them up without accounting, so they are read here only
            if fields.get("ArrayJobId") in wanted and fields.get("ArrayTaskId"):
                arrays.setdefault(fields["ArrayJobId"], {})[fields["ArrayTaskId"]] = status
            elif fields.get("JobId") in wanted:
                found[fields["JobId"]] = status
        for array, tasks in arrays.items():
            found[array] = array_status(tasks)
        missing = sorted(wanted - set(found))
        if missing:
            out = self._run("sacct", "-c", "-n", "-P", "-j", ",".join(missing),
                            "-o", "jobid,state,exitcode,start,end")
            for line in out.splitlines():
                jid, state, code, start, end = line.split("|")
                found[jid] = self._status(state.split()[0], None, code, start, end)
        return found

    @staticmethod
    def _status(state: str, reason: str | None, code: str, start: str | None,
                end: str | None) -> Status:
        exit_code, sig = _exit_signal(code)
        running = state in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED")
        return Status(
            state=state,
            reason=None if reason in (None, "None") else reason,
            exit_code=None if running else exit_code,
            signal=None if running else sig,
            start=None if state == "PENDING" else _slurm_timestamp(start),
            end=None if running else _slurm_timestamp(end),
        )

    def cancel(self, native_id: str) -> None:
        """``scancel ID`` (``ID_TASK``: one task of an array)."""
        self._run("scancel", native_id)

    def kill(self, native_id: str) -> None:
        """SIGKILL the job's processes (``scontrol listpids``), as the OOM killer would.

        Slurm then reports FAILED 0:9; ``scancel --signal=KILL`` would read CANCELLED.
        """
        listing = self._run("scontrol", "listpids", native_id).splitlines()[1:]
        for pid in (int(line.split()[0]) for line in listing if line.split()[0].isdigit()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def fail_node(self) -> None:
        """Set every node DOWN (jobs on it end NODE_FAIL), then resume it in the background."""
        nodes = self._run("sinfo", "-h", "-N", "-o", "%N").split()
        for node in set(nodes):
            self._run("scontrol", "update", f"nodename={node}", "state=down",
                      "reason=simulated node failure")
        threading.Thread(target=self._resume, args=(set(nodes),), daemon=True).start()

    def _resume(self, nodes: set[str]) -> None:
        deadline = time.time() + 30
        while time.time() < deadline and self._run("squeue", "-h", "-t", "R,CG", "-o", "%A"):
            time.sleep(0.2)
        for node in nodes:
            with contextlib.suppress(SubmitError):  # ReturnToService may have resumed it
                self._run("scontrol", "update", f"nodename={node}", "state=resume")

    def partitions(self) -> list[dict]:
        """From ``sinfo``: name, CPUs per node, node count, time limit."""
        parts = []
        for line in self._run("sinfo", "-h", "-o", "%P|%c|%D|%l").splitlines():
            name, cpus, nodes, limit = line.split("|")
            max_time = None if limit in ("infinite", "n/a") else slurm_time(limit) // 60
            parts.append({"name": name.rstrip("*"), "default": name.endswith("*"),
                          "cpus": int(cpus.rstrip("+")), "nodes": int(nodes), "max_time": max_time})
        return parts

    def stop(self) -> None:
        """Nothing to do: jobs live on in Slurm, as on a real site."""


def job_environment_base() -> dict[str, str]:
    """The clean environment the simulator's own batch-system commands run with."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass
class _Proc:
    job: Job
    status: Status
    popen: subprocess.Popen | None = None
    timer: threading.Timer | None = None
    ending: str | None = None


class ProcessExecutor:
    """Local processes with Slurm's state machine, for machines where Slurm cannot run.

    At most ``slots`` jobs run at once (the rest are PENDING), ``#SBATCH --time`` and the
    job's time limit end a job TIMEOUT, cancel ends it CANCELLED 0:15.
    """

    name = "process"
    KILL_WAIT = 5.0

    def __init__(self, state_dir: Path, slots: int = 4) -> None:
        self._slots = slots
        self._counter = state_dir / "process-next-id"
        self._lock = threading.RLock()
        self._procs: dict[str, _Proc] = {}
        self._queue: list[str] = []

    def _next_id(self) -> str:
        value = int(self._counter.read_text()) if self._counter.exists() else 1
        self._counter.write_text(str(value + 1))
        return str(value)

    def submit(self, job: Job) -> str:
        """Queue the job; it starts as soon as a slot is free."""
        if not Path(job.workdir).is_dir():
            raise SubmitError(f"sbatch: error: chdir to {job.workdir} failed: No such directory")
        with self._lock:
            native_id = self._next_id()
            self._procs[native_id] = _Proc(job, Status("PENDING", reason="Priority"))
            self._queue.append(native_id)
            self._schedule()
        return native_id

    def _schedule(self) -> None:
        running = sum(1 for p in self._procs.values() if p.status.state == "RUNNING")
        while self._queue and running < self._slots:
            self._launch(self._queue.pop(0))
            running += 1

    def _launch(self, native_id: str) -> None:
        proc = self._procs[native_id]
        job = proc.job
        stdout = Path(expand_pattern(job.stdout, native_id, job.name))
        stderr = Path(expand_pattern(job.stderr, native_id, job.name)) if job.stderr else None
        with open(stdout, "ab") as out, open(stderr or os.devnull, "ab") as err:
            proc.popen = subprocess.Popen(
                ["bash", "-l", job.script],
                cwd=job.workdir,
                env=job_environment(job, {"SLURM_JOB_ID": native_id, "SLURM_JOB_NAME": job.name}),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err if stderr else subprocess.STDOUT,
                start_new_session=True,
            )
        proc.status = Status("RUNNING", start=time.time())
        if job.time_limit:
            proc.timer = threading.Timer(job.time_limit, self._end, (native_id, "TIMEOUT"))
            proc.timer.daemon = True
            proc.timer.start()
        threading.Thread(target=self._wait, args=(native_id,), daemon=True).start()

    def _wait(self, native_id: str) -> None:
        proc = self._procs[native_id]
        rc = proc.popen.wait()
        with self._lock:
            if proc.timer:
                proc.timer.cancel()
            code, sig = (rc, 0) if rc >= 0 else (0, -rc)
            state = proc.ending or ("COMPLETED" if rc == 0 else "FAILED")
            reason = {"FAILED": "NonZeroExitCode", "TIMEOUT": "TimeLimit", "NODE_FAIL": "NodeDown"}
            start = proc.status.start
            proc.status = Status(state, reason.get(state), code, sig, start, time.time())
            self._schedule()

    def _end(self, native_id: str, ending: str, sig: int = signal.SIGTERM) -> None:
        """Stop a running job so that it ends in state ``ending`` (SIGKILL after KILL_WAIT)."""
        with self._lock:
            proc = self._procs[native_id]
            if proc.status.state != "RUNNING" or proc.ending:  # the first ending wins
                return
            proc.ending = ending
            self._signal(proc, sig)
        if sig != signal.SIGKILL:
            timer = threading.Timer(self.KILL_WAIT, self._signal, (proc, signal.SIGKILL))
            timer.daemon = True
            timer.start()

    @staticmethod
    def _signal(proc: _Proc, sig: int) -> None:
        if proc.popen and proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, sig)

    def query(self, native_ids: list[str]) -> dict[str, Status]:
        """In-memory status; ids from before a simulator restart read NODE_FAIL."""
        with self._lock:
            return {
                i: self._procs[i].status if i in self._procs else Status("NODE_FAIL", "NodeDown")
                for i in native_ids
            }

    def cancel(self, native_id: str) -> None:
        """A PENDING job is dropped at once, a RUNNING one gets SIGTERM, then SIGKILL."""
        with self._lock:
            proc = self._procs.get(native_id)
            if proc is None:
                raise SubmitError(f"scancel: error: Invalid job id {native_id}")
            if native_id in self._queue:
                self._queue.remove(native_id)
                proc.status = Status("CANCELLED", None, 0, 15, None, time.time())
                return
        self._end(native_id, "CANCELLED")

    def kill(self, native_id: str) -> None:
        """SIGKILL the job's processes: FAILED with signal 9."""
        self._end(native_id, "FAILED", signal.SIGKILL)

    def fail_node(self) -> None:
        """Every running job dies NODE_FAIL; the node is back at once."""
        with self._lock:
            running = [i for i, p in self._procs.items() if p.status.state == "RUNNING"]
        for native_id in running:
            self._end(native_id, "NODE_FAIL", signal.SIGKILL)

    def partitions(self) -> list[dict]:
        """Site-like partitions over the local slots."""
        return [
            {"name": name, "default": name == "batch", "cpus": self._slots, "nodes": 1,
             "max_time": limit}
            for name, limit in (("batch", None), ("devel", 30), ("booster", None))
        ]

    def stop(self) -> None:
        """Kill every job still running (the simulated node goes away with the simulator)."""
        self.fail_node()


def make_executor(executor: str, state_dir: Path, slots: int,
                  slurm_conf: str | None) -> tuple[Executor, str | None]:
    """The executor asked for; ``auto`` falls back to processes and says why (second item)."""
    if executor in ("auto", "slurm"):
        slurm = SlurmExecutor(slurm_conf)
        if slurm.available():
            return slurm, None
        why = "Slurm is not reachable (run scripts/slurm-up as root and set SLURM_CONF)"
        if executor == "slurm":
            raise RuntimeError(f"--executor slurm: {why}")
        return ProcessExecutor(state_dir, slots), f"{why}: falling back to the process executor"
    return ProcessExecutor(state_dir, slots), None
