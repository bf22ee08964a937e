"""Scheduled runs against the simulator over real Slurm, with a real server stopped between.

One timeline, so the minutes it needs are spent once: two runs ``At`` 40 s ahead
(FirecREST, UNICORE) and a ``* * * * *`` schedule are queued; the server is stopped until
two more minute boundaries have passed, while the site alone starts what it holds; the
server returns and catches up once; bad input and pause/resume/delete are checked while
the next minute comes, which then fires with the server up and queues the one after.
The site's own job list is the witness throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import make_notebook
from live_server import LiveServer

from mantik_jupyter.sim import Simulator

pytestmark = pytest.mark.timeout(1200)
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


def until(what: str, check, timeout: float = 180, pause: float = 1.0):
    """Wait for ``check()`` to return something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(pause)


class Site:
    """The simulator's own job list: what really waits and runs on the site."""

    def __init__(self, sim: Simulator):
        self.sim = sim

    def jobs(self) -> list[dict]:
        return [j for j in self.sim.jobs()
                if j["name"].startswith("mantik-") and j["name"] != "mantik-upload-cache"]

    def job(self, run_id: str) -> dict:
        found = [j for j in self.jobs() if j["name"] == f"mantik-{run_id}"]
        assert len(found) == 1, (run_id, found)
        return found[0]

    def waiting(self) -> list[str]:
        """Names of jobs held until a time: Slurm's BeginTime, UNICORE's "Not before"."""
        return [j["name"] for j in self.jobs()
                if j["state"] == "PENDING" and j["reason"] == "BeginTime"
                or j["state"] == "NEW" and j["heldUntil"]]


@pytest.fixture
def setup(tmp_path: Path, slurm: str, mlflow_uri: str):
    home = tmp_path / "home"
    sim = Simulator(home / "sim", port=0, executor="slurm", slurm_conf=slurm).start()
    server = LiveServer(tmp_path / "root", home, mlflow_uri).start()
    make_notebook(server.root / "tick.ipynb", "n: int = 1", "print('tick', n)")

    def cli(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MANTIK_JUPYTER_HOME": str(home), "MLFLOW_TRACKING_URI": mlflow_uri}
        return subprocess.run([sys.executable, "-m", "mantik_jupyter.cli", *args], env=env,
                              capture_output=True, text=True, timeout=300)

    yield server, Site(sim), cli
    server.stop()
    sim.stop()


def test_runs_start_later_and_a_schedule_fires_while_the_server_is_stopped(setup):
    server, site, cli = setup

    def api(method: str, path: str, expect: int, **kwargs):
        response = server.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else None

    def history(schedule_id: str) -> dict[datetime, dict]:
        runs = api("GET", f"schedules/{schedule_id}/runs", 200)["runs"]
        return {datetime.fromisoformat(r["occurrence"]): r["run"] for r in runs}

    # --- once, 40 s ahead, on each gateway: QUEUED with the begin time; the site holds it
    at = (datetime.now(timezone.utc) + timedelta(seconds=40)).replace(microsecond=0)
    later = [api("POST", "runs", 201, json={
        "notebook": "tick.ipynb", "site": name, "config": {"Schedule": {"At": at.isoformat()}}})
        for name in ("sim-firecrest", "sim-unicore")]
    for posted in later:  # recorded at once; bundled and sent in the server's background
        until("the run leaving SUBMITTING", lambda r=posted: api(
            "GET", f"runs/{r['id']}", 200)["state"] != "SUBMITTING", timeout=120)
        run = api("GET", f"runs/{posted['id']}", 200)
        assert run["state"] == "QUEUED" and run["reason"].startswith("starts at "), run
        # Slurm's begin, or UNICORE holding it (or, on a slow day, already begun)
        until("the site holding the job", lambda r=run: max(
            site.job(r["id"])[key] or 0 for key in ("begin", "heldUntil", "start")
        ) >= at.timestamp(), timeout=60)

    # --- every minute: the next minute boundary waits on the site at once
    minutely = api("POST", "schedules", 201, json={
        "notebook": "tick.ipynb", "site": "sim-firecrest", "name": "minutely",
        "config": {"Schedule": {"Cron": "* * * * *", "Timezone": "Europe/Berlin"}}})
    assert minutely["catchup"] == "latest" and minutely["runs"] == 1
    first = datetime.fromisoformat(minutely["next_time"])
    assert first.second == 0 and first == min(history(minutely["id"]))
    first_run = history(minutely["id"])[first]["id"]
    until("the first occurrence held by Slurm", lambda: max(
        site.job(first_run)["begin"] or 0, site.job(first_run)["start"] or 0
    ) >= first.timestamp(), timeout=60)

    # --- the server stops; what waits on the site then is the occurrence queued ahead
    ahead_time = max(history(minutely["id"]))
    server.stop()
    stopped = datetime.now(timezone.utc)
    resume_at = ahead_time + timedelta(minutes=2, seconds=5)  # two more boundaries pass
    until("two missed minute boundaries", lambda: datetime.now(timezone.utc) >= resume_at,
          timeout=400, pause=2)
    for run in later:  # the site started them, no earlier than asked, with nobody watching
        assert (site.job(run["id"])["start"] or 0) >= at.timestamp(), site.job(run["id"])
    assert not [n for n in site.waiting()], "nothing was queued while the server was away"
    returned = datetime.now(timezone.utc)

    # --- back: one run for the latest missed occurrence (never a burst), one queued ahead
    server.start()
    runs = until("the catch-up", lambda: (lambda h: h if len(h) == len(
        [t for t in h if t <= ahead_time]) + 2 else None)(history(minutely["id"])), timeout=120)
    times = sorted(runs)
    ahead_job = site.job(runs[ahead_time]["id"])
    assert ahead_time.timestamp() <= ahead_job["start"] <= returned.timestamp(), ahead_job
    caught_up, next_time = times[-2:]
    assert ahead_time + timedelta(minutes=2) <= caught_up <= datetime.now(timezone.utc), times
    assert next_time == caught_up + timedelta(minutes=1) and returned - stopped >= \
        timedelta(minutes=2)
    assert site.waiting() == [f"mantik-{runs[next_time]['id']}"]
    names = Counter(j["name"] for j in site.jobs())
    assert set(names.values()) == {1}, names  # no occurrence ever ran twice

    def others() -> tuple[int, int]:
        """Runs and site jobs besides the minute schedule's (which goes on meanwhile)."""
        ours = {f"mantik-{run['id']}" for run in history(minutely["id"]).values()}
        runs = api("GET", "runs", 200, params={"limit": 500})["runs"]
        return (len([r for r in runs if f"mantik-{r['id']}" not in ours]),
                len([j for j in site.jobs() if j["name"] not in ours]))

    # --- meanwhile: bad input is refused naming its key, leaving no record and no job
    before = others()
    past = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    for path, schedule, key in (
            ("schedules", {"Cron": "61 * * * *"}, "Schedule.Cron"),
            ("schedules", {"Cron": "* * * * *", "Timezone": "Mars/Base"}, "Schedule.Timezone"),
            ("schedules", {"Cron": "0 3 * * *", "Until": "2020-01-01"}, "Schedule.Until"),
            ("runs", {"At": past}, "Schedule.At"),
            ("runs", {"Cron": "* * * * *"}, "Schedule.Cron")):
        error = api("POST", path, 422, json={"notebook": "tick.ipynb", "site": "sim-firecrest",
                                             "config": {"Schedule": schedule}})
        assert error["details"]["key"] == key, error
    refused = cli("submit", str(server.root / "tick.ipynb"), "--site", "sim-unicore",
                  "--at", "2020-01-01T00:00:00+01:00")
    assert refused.returncode == 2 and "Schedule.At" in refused.stderr, refused.stderr
    assert [s["id"] for s in api("GET", "schedules", 200)["schedules"]] == [minutely["id"]]
    assert others() == before

    # --- pause / resume / delete, on UNICORE: a daily run held a day on the site
    daily = api("POST", "schedules", 201, json={
        "notebook": "tick.ipynb", "site": "sim-unicore",
        "config": {"Schedule": {"Cron": "0 3 * * *", "Timezone": "UTC"}}})
    first_daily = daily["last_run"]["id"]
    assert f"mantik-{first_daily}" in site.waiting()
    paused = cli("schedules", "pause", daily["id"])
    assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
    assert site.job(first_daily)["state"] == "CANCELLED"
    assert api("PATCH", f"schedules/{daily['id']}", 200, json={"action": "resume"})["next_time"]
    second_daily = api("GET", f"schedules/{daily['id']}", 200)["last_run"]["id"]
    assert second_daily != first_daily and f"mantik-{second_daily}" in site.waiting()
    api("DELETE", f"schedules/{daily['id']}", 204)
    assert site.job(second_daily)["state"] == "CANCELLED"
    kept = api("GET", f"schedules/{daily['id']}/runs", 200)["runs"]
    assert [r["run"]["state"] for r in kept] == ["CANCELLED", "CANCELLED"]  # history kept
    assert api("GET", "schedules", 200, params={"deleted": "true"})["schedules"][0]["deleted"]

    # --- a sweep held until At: its one array waits on the site, cancelled with the sweep
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    held = api("POST", "runs", 201, json={"notebook": "tick.ipynb", "site": "sim-firecrest",
                                          "config": {"Sweep": {"Grid": {"n": [1, 2]}},
                                                     "Schedule": {"At": tomorrow.isoformat()}}})
    assert (held["state"], held["sweep_id"]) == ("SUBMITTING", held["id"])  # answered at once

    def submitted():
        run = api("GET", f"runs/{held['id']}", 200)
        return run if run["state"] != "SUBMITTING" else None

    held = until("the sweep's array submitted", submitted, timeout=120)
    # the points' reason once polled is the site's (Slurm's begin, to its second)
    assert held["state"] == "QUEUED" and held["reason"].startswith("starts at "), held
    assert held["native_state"] == "2 points: 2 QUEUED"
    until("the site holding the array", lambda: f"mantik-{held['id']}-0" in site.waiting()
          and site.job(f"{held['id']}-0")["begin"] >= tomorrow.timestamp(), timeout=60)
    api("PATCH", f"runs/{held['id']}", 200, json={"action": "cancel"})
    assert site.job(f"{held['id']}-0")["state"] == "CANCELLED"
    flags = cli("submit", str(server.root / "tick.ipynb"), "--site", "sim-firecrest",
                "--cron", "0 3 * * *", "--sweep", "n=1,2")
    assert flags.returncode == 2 and "config's Sweep key" in flags.stderr, flags.stderr

    # --- the server up: each minute fires on time and the one after it waits at once
    done = until("the catch-up run's end", lambda: (lambda r: r if r["state"] in ENDED else None)(
        api("GET", f"runs/{runs[caught_up]['id']}", 200)), timeout=180)
    assert done["state"] == "COMPLETED", done
    after = until("a minute more with the server up", lambda: (lambda h: h if max(h) > next_time
                                                               else None)(history(minutely["id"])),
                  timeout=150)
    since = sorted(t for t in after if t >= caught_up)  # one per minute, none left out
    assert since == [caught_up + timedelta(minutes=i) for i in range(len(since))], since
    for occurrence in since[1:-1]:  # those whose time came started then, not before
        started = until("an occurrence's start", lambda o=occurrence: site.job(
            after[o]["id"])["start"], timeout=120)
        assert started >= occurrence.timestamp()

    def one_ahead() -> bool:
        latest = history(minutely["id"])
        return site.waiting() == [f"mantik-{latest[max(latest)]['id']}"]

    until("exactly one occurrence waiting, the latest", one_ahead, timeout=60)
    shown = json.loads(cli("schedules", "show", minutely["id"], "--json").stdout)
    assert shown["next_time"] == max(h["occurrence"] for h in shown["history"])
    api("DELETE", f"schedules/{minutely['id']}", 204)
    assert not site.waiting()
