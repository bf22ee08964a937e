"""What every Slurm-fronting backend shares: states, directives, finding a run's job."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mantik_jupyter.backends import slurm_jobs
from mantik_jupyter.backends.slurm_jobs import SlurmJob
from mantik_jupyter.spec import RunSpec
from mantik_jupyter.states import RunState


@pytest.mark.parametrize(("native", "code", "state", "reason"), [
    ("PENDING", None, RunState.QUEUED, None),
    ("REQUEUE_HOLD", None, RunState.QUEUED, None),
    ("COMPLETING", None, RunState.RUNNING, None),
    ("COMPLETED", 0, RunState.COMPLETED, None),
    ("COMPLETED", 3, RunState.FAILED, "Slurm state COMPLETED, exit code 3"),
    ("CANCELLED by 1000", 0, RunState.CANCELLED, "Slurm state CANCELLED by 1000, exit code 0"),
    ("TIMEOUT", 0, RunState.TIMEOUT, "Slurm state TIMEOUT, exit code 0"),
    ("OUT_OF_MEMORY", 137, RunState.FAILED, "Slurm state OUT_OF_MEMORY, exit code 137"),
    ("SOMETHING_NEW", None, RunState.UNKNOWN, None),
    ("", None, RunState.UNKNOWN, None),
])
def test_slurm_states_map_to_run_states(native, code, state, reason):
    status = SlurmJob("7", "mantik-abc", "/w/abc", native, code, started_at="t0").status
    assert (status.state, status.native_state, status.reason, status.exit_code) == (
        state, native, reason, code)
    assert status.started_at == "t0"


def test_a_signal_is_named_in_the_reason():
    status = SlurmJob("7", "x", None, "FAILED", 1, signal=9).status
    assert status.reason == "Slurm state FAILED, exit code 1, signal 9"


def test_a_runs_job_is_found_by_name_and_directory():
    jobs = [SlurmJob("1", "mantik-abc", "/elsewhere", "RUNNING"),
            SlurmJob("2", "other", "/w/abc", "RUNNING"),
            SlurmJob("3", "mantik-abc", "/w/abc", "PENDING")]
    assert slurm_jobs.run_job(jobs, "abc", "/w/abc").job_id == "3"
    assert slurm_jobs.run_job(jobs[:2], "abc", "/w/abc") is None
    assert slurm_jobs.noted_job_id("4242\n") == "4242"
    assert slurm_jobs.noted_job_id("") is None
    assert slurm_jobs.JOB_ID_FILE in slurm_jobs.NOTE_JOB_ID


def test_directives_quote_values_and_name_the_job_after_the_run():
    spec = RunSpec.from_config({"Resources": {
        "Queue": "booster", "Nodes": 2, "Runtime": "1h30m", "MemoryPerNode": "4G",
        "NodeConstraints": "gpu&a100", "Project": "climate ml"}})
    assert slurm_jobs.directives(spec, "abc") == [
        "#SBATCH --job-name=mantik-abc", "#SBATCH --partition=booster", "#SBATCH --nodes=2",
        "#SBATCH --constraint='gpu&a100'", "#SBATCH --account='climate ml'",
        "#SBATCH --time=1:30:00", "#SBATCH --mem=4096M"]


def test_a_deferred_start_is_a_delay_never_earlier_and_its_begin_time_is_the_reason():
    now = datetime(2026, 11, 30, 8, 0, 0, 900000, tzinfo=timezone.utc)
    begin = datetime(2026, 11, 30, 9, 0, 40, tzinfo=timezone(timedelta(hours=1)))
    # 39.1 s ahead: 40 s, and one more because Slurm truncates its own clock
    assert slurm_jobs.begin_delay(begin, now) == 41
    assert slurm_jobs.begin_delay(begin, now + timedelta(minutes=5)) == 0
    lines = slurm_jobs.directives(RunSpec(), "r1", begin_in=41)
    assert "#SBATCH --begin=now+41" in lines
    assert not any("--begin" in line for line in slurm_jobs.directives(RunSpec(), "r1"))
    held = SlurmJob("7", "mantik-r1", "/w", "PENDING", reason="BeginTime",
                    begins_at="2026-11-30T08:00:41+00:00").status
    assert (held.state, held.reason) == (RunState.QUEUED, "starts at 2026-11-30T08:00:41+00:00")
    waiting = SlurmJob("7", "mantik-r1", "/w", "PENDING", reason="Priority").status
    assert waiting.reason is None


def test_array_tasks_are_named_as_slurm_names_them():
    """squeue's JobID of a task is its own number: the task is found as 123_4 and the
    pending rest 123_[1-3%1] under each of its tasks' ids."""
    from mantik_jupyter.backends.slurm_jobs import SACCT_MARK, parse_query, split_tasks

    out = ("1843|1843|1-3%1|PENDING|1764499999|0|BeginTime|mantik-s-0|/w|\n"
           "1844|1843|0|RUNNING|1764490000|0|None|mantik-s-0|/w|\n"
           "1842|1842|N/A|RUNNING|1764490000|0|None|other|/x|\n" + SACCT_MARK + "\n")
    jobs = split_tasks(parse_query(out))
    assert jobs["1843_0"].status.state == RunState.RUNNING
    assert jobs["1843_0"].status.reason is None
    assert [jobs[f"1843_{i}"].status.state for i in (1, 2, 3)] == [RunState.QUEUED] * 3
    held = jobs["1843_1"].status  # held by --begin until its StartTime, not started
    assert (held.reason, held.started_at) == ("starts at 2025-11-30T10:53:19+00:00", None)
    assert "1842" in jobs and "1844" not in jobs and "1843_4" not in jobs
