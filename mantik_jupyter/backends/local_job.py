"""The wrapper a local job runs under: records start, exit code and end in the run folder.

Started detached (its own session), it runs the job script, enforces the time limit and,
on SIGTERM (cancel), ends every process of its session, kernels included. Whatever
happens it leaves ``.mantik-job/exit.json`` behind, from which the engine recovers the
state even after the submitting process or Jupyter has gone.

A job with a begin time waits for it here (QUEUED until then; a cancel ends the wait).

Run as ``python -m mantik_jupyter.backends.local_job RUN_DIR SCRIPT [RUNTIME_SECONDS
[BEGIN_EPOCH]]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..paths import write_atomic
from ..store import now

META = ".mantik-job"
#: The begin time of a deferred job, kept for its QUEUED reason.
BEGIN = "begin.json"
KILL_GRACE = 5.0


def session_pids(sid: int) -> list[int]:
    """Processes of session ``sid`` (read from /proc), the caller excluded."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def kill_session(sid: int, grace: float = KILL_GRACE) -> None:
    """SIGTERM every process of the session, SIGKILL what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        pids = session_pids(sid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and session_pids(sid):
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    run_dir, script = Path(argv[0]), argv[1]
    runtime = float(argv[2]) if len(argv) > 2 and argv[2] else None
    begin = float(argv[3]) if len(argv) > 3 and argv[3] else None
    meta = run_dir / META
    outcome = {"cancelled": False, "timed_out": False}

    def on_term(signum: int, frame: object) -> None:
        outcome["cancelled"] = True
        kill_session(os.getsid(0))

    signal.signal(signal.SIGTERM, on_term)
    while begin is not None and not outcome["cancelled"] and time.time() < begin:
        time.sleep(min(1.0, begin - time.time()))
    if outcome["cancelled"]:  # cancelled while it waited for its begin time
        write_atomic(meta / "exit.json", json.dumps({"exit_code": -signal.SIGTERM,
                                                     "ended_at": now(), **outcome}))
        return 0
    write_atomic(meta / "started.json", json.dumps({"started_at": now(), "pid": os.getpid()}))
    child = subprocess.Popen(["/bin/bash", script], cwd=run_dir)
    try:
        code = child.wait(timeout=runtime)
    except subprocess.TimeoutExpired:
        outcome["timed_out"] = True
        print(f"mantik: time limit of {runtime:.0f} s reached, stopping the job",
              file=sys.stderr, flush=True)
        kill_session(os.getsid(0))
        code = child.wait()
    write_atomic(meta / "exit.json", json.dumps({"exit_code": code, "ended_at": now(), **outcome}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
