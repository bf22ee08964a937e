"""Schedule reconciling on the local site with a clock the test moves: one occurrence
ahead, one catch-up after downtime (or none), Count, an occurrence submitted by a process
that died before it noted it, pause with an occurrence ahead.

The clock stands in 2030, so every occurrence queued ahead is a real local job that waits
for its begin time; each is cancelled at the end (a catch-up run starts at once and runs).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import make_notebook

from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.scheduling import occurrence_run_id
from mantik_jupyter.service import RunService

T0 = datetime(2030, 1, 1, 10, 30, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, hour: int, minute: int = 0, second: int = 0) -> None:
        self.now = T0.replace(hour=hour, minute=minute, second=second)


@pytest.fixture
def service(home: Path, tmp_path: Path):
    service = RunService(home)
    service._scheduler.clock = Clock()  # the engine's own clock, moved by the test
    yield service
    for run in service.active():  # the waiting jobs of 2030
        if run.state == "QUEUED":
            service.cancel(run.id)
    service.close()


def occurrences(service: RunService, schedule_id: str) -> list[str]:
    return sorted(o[11:16] for o, _ in service._scheduler.runs(schedule_id))


def test_one_ahead_one_catch_up_count_and_a_lost_submission(service, tmp_path):
    clock = service._scheduler.clock
    nb = make_notebook(tmp_path / "project" / "hourly.ipynb", None, "print('hour')")
    request = SubmitRequest(notebook=str(nb), site="local",
                            config={"Schedule": {"Cron": "0 * * * *", "Timezone": "UTC"}})
    hourly = service.add_schedule(request)
    assert occurrences(service, hourly["id"]) == ["11:00"]
    waiting = service.get(hourly["last_run"]["id"])
    assert waiting.state == "QUEUED" and waiting.reason == "starts at 2030-01-01T11:00:00+00:00"

    clock.at(10, 59)
    service.tick_schedules()
    assert occurrences(service, hourly["id"]) == ["11:00"]  # one ahead, not two
    clock.at(11, 0, 30)
    service.tick_schedules()
    assert occurrences(service, hourly["id"]) == ["11:00", "12:00"]

    clock.at(15, 10)  # 13:00, 14:00 and 15:00 passed while nothing could queue them
    service.tick_schedules()
    assert occurrences(service, hourly["id"]) == ["11:00", "12:00", "15:00", "16:00"]
    caught_up = service.get(occurrence_run_id(hourly["id"], clock.now.replace(minute=0)))
    assert caught_up.reason is None  # it starts now, it is not held

    # a process submitted 17:00 and died before it noted it: adopted, never sent again
    stored = SubmitRequest.from_json(service._scheduler.store.get(hourly["id"]).request,
                                     lambda path, _key: Path(path))
    config = {k: v for k, v in stored.spec.config.items() if k != "Schedule"}
    seventeen = clock.now.replace(hour=17, minute=0)
    lost_id = occurrence_run_id(hourly["id"], seventeen)
    service._scheduler.submitter.submit(replace(stored, config=config), begin=seventeen,
                                        run_id=lost_id, confined=False)
    runs_before = len(service.list())
    clock.at(16, 0, 10)
    service.tick_schedules()
    assert occurrences(service, hourly["id"]) == ["11:00", "12:00", "15:00", "16:00", "17:00"]
    assert len(service.list()) == runs_before and service._scheduler.runs(
        hourly["id"])[0] == ("2030-01-01T17:00:00+00:00", lost_id)

    # pause cancels the one ahead; resume queues the one after it; remove keeps history
    paused = service.pause_schedule(hourly["id"])
    assert paused["paused"] and service.get(lost_id).state == "CANCELLED"
    service.tick_schedules()
    assert len(occurrences(service, hourly["id"])) == 5  # a paused schedule queues nothing
    service.resume_schedule(hourly["id"])
    assert occurrences(service, hourly["id"])[-1] == "18:00"
    removed = service.remove_schedule(hourly["id"])
    assert removed["deleted"] and len(occurrences(service, hourly["id"])) == 6
    assert service.schedules() == [] and service.schedules(deleted=True)[0]["runs"] == 6

    # Count ends a schedule; Catchup none skips what was missed
    clock.at(10, 30)
    counted = service.add_schedule(SubmitRequest(notebook=str(nb), site="local", config={
        "Schedule": {"Cron": "0 * * * *", "Timezone": "UTC", "Count": 2,
                     "Catchup": "none"}}))
    clock.at(14, 10)
    service.tick_schedules()
    assert occurrences(service, counted["id"]) == ["11:00", "15:00"]  # 12-14 skipped
    clock.at(15, 1)
    service.tick_schedules()
    assert occurrences(service, counted["id"]) == ["11:00", "15:00"]  # Count reached
    assert service.schedule(counted["id"])["next_time"] is None


def test_a_schedule_with_a_sweep_fires_whole_sweeps_and_at_holds_a_sweep(service, tmp_path):
    """Each occurrence of a recurring Sweep is a whole sweep the site holds until its time
    (pause cancels every point); a sweep with At waits too, and its re-run starts now."""
    nb = make_notebook(tmp_path / "project" / "grid.ipynb", "lr: float = 0.1", "print(lr)")
    grid = {"Grid": {"lr": [0.1, 0.2]}}
    added = service.add_schedule(SubmitRequest(notebook=str(nb), site="local", config={
        "Sweep": grid, "Schedule": {"Cron": "0 * * * *", "Timezone": "UTC"}}))
    first = service.get(added["last_run"]["id"])
    assert first.id == occurrence_run_id(added["id"], T0.replace(hour=11, minute=0))
    assert (first.is_sweep, first.state, first.reason) == (
        True, "QUEUED", "starts at 2030-01-01T11:00:00+00:00")
    points = service.points(first.id)
    assert sorted(p.parameters["lr"] for p in points) == [0.1, 0.2]
    assert {(p.state, p.reason) for p in points} == {("QUEUED", first.reason)}
    service.pause_schedule(added["id"])
    assert {service.synced(p.id).state for p in points} == {"CANCELLED"}

    from datetime import timedelta  # At is checked against the real clock, not the test's
    at = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    held = service.submit(SubmitRequest(notebook=str(nb), site="local", config={
        "Sweep": grid, "Schedule": {"At": at.isoformat()}}))
    assert (held.is_sweep, held.state, held.reason) == (True, "QUEUED",
                                                        f"starts at {at.isoformat()}")
    assert {service.synced(p.id).reason for p in service.points(held.id)} == {held.reason}
    again = service.rerun(held.id)
    assert again.is_sweep and again.reason is None and "Schedule" not in again.spec
    service.cancel(again.id)
    service.cancel(held.id)
