"""Blocking waits on a run: until it ends, or streaming its log. Ctrl-C stops the waiting,
never the run."""

from __future__ import annotations

import sys
import time
from typing import Any

from .client import Client
from .records import RunRecord

LOG_CHUNK = 1 << 20
FOLLOW_INTERVAL = 0.5
WAIT_INTERVALS = (0.5, 1.0, 2.0, 5.0)


def follow(client: Client, run_id: str, offset: int = 0) -> str:
    """Print the log from ``offset`` as it grows until the run ended; returns its state."""
    while True:
        chunk: dict[str, Any] = client.logs(run_id, offset, LOG_CHUNK)
        if chunk["data"]:
            sys.stdout.write(chunk["data"])
            sys.stdout.flush()
        if chunk["eof"]:
            return chunk["state"]
        if chunk["next_offset"] == offset:
            time.sleep(FOLLOW_INTERVAL)
        offset = chunk["next_offset"]


def wait(client: Client, run: RunRecord, *, stream_log: bool) -> RunRecord:
    """Block until ``run`` ends (printing its log if ``stream_log``); returns it then.

    A keyboard interrupt (the kernel's stop button) ends the wait and returns the run as
    it is; the run goes on.
    """
    run_id = run["id"]
    try:
        if stream_log:
            follow(client, run_id)
        run = RunRecord(client.run(run_id))
        polls = 0
        while not run.terminal:
            time.sleep(WAIT_INTERVALS[min(polls, len(WAIT_INTERVALS) - 1)])
            polls += 1
            run = RunRecord(client.run(run_id))
        return run
    except KeyboardInterrupt:
        current = RunRecord(client.run(run_id))
        print(f"stopped waiting; run {run_id} goes on ({current['state']}); "
              f"%mantik_cancel {run_id} cancels it", flush=True)
        return current
