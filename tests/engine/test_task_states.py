"""A sweep's task state files read back: each point's state, exit code and times, where the
gateway reports only the whole job (UNICORE's raw jobs, the local site)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mantik_jupyter.backends import JobStatus, task_status
from mantik_jupyter.jobscript import TaskState, task_states
from mantik_jupyter.states import RunState

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(hours=1)))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_each_point_has_its_code_and_the_times_its_files_were_written():
    tasks = task_states([("0.running", at(0)), ("0.exit.0", at(5)), ("1.running", at(2)),
                         ("points/state/2.exit.-9", None), ("notes.txt", at(1)),
                         ("3.exit.x", at(1))])
    assert tasks == {
        0: TaskState(0, "2026-11-30T11:00:00.000000+00:00", "2026-11-30T11:00:05.000000+00:00"),
        1: TaskState(None, "2026-11-30T11:00:02.000000+00:00", None),
        2: TaskState(-9, None, None)}


def test_a_points_state_comes_from_its_task_while_the_job_runs_and_after():
    tasks = task_states([("0.running", at(0)), ("0.exit.0", at(5)), ("1.running", at(2)),
                         ("2.running", at(3)), ("2.exit.1", at(4))])
    running = JobStatus(RunState.RUNNING, "RUNNING")
    done = task_status(running, tasks, 0)
    assert (done.state, done.exit_code) == (RunState.COMPLETED, 0)
    assert (done.started_at, done.ended_at) == (tasks[0].started_at, tasks[0].ended_at)
    failed = task_status(running, tasks, 2)
    assert (failed.state, failed.reason, failed.ended_at) == (
        RunState.FAILED, "exit code 1", tasks[2].ended_at)
    assert task_status(running, tasks, 1).started_at == tasks[1].started_at
    assert task_status(running, tasks, 3).state == RunState.QUEUED
    cancelled = JobStatus(RunState.CANCELLED, "CANCELLED", "cancelled by the user")
    assert task_status(cancelled, tasks, 1).state == RunState.CANCELLED
    assert "without noting its exit code" in task_status(
        JobStatus(RunState.FAILED, "FAILED"), tasks, 1).reason
