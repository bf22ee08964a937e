"""The Schedule key: shape errors that name the key, and next times on a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from mantik_jupyter.errors import ConfigError
from mantik_jupyter.schedule import Schedule, cron_in_words, validate
from mantik_jupyter.spec import load_config

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


def times(schedule: Schedule, start: datetime, n: int) -> list[str]:
    found, moment = [], start
    for _ in range(n):
        moment = schedule.next_after(moment)
        if moment is None:
            break
        found.append(moment.isoformat())
    return found


def test_a_daily_time_stays_local_over_both_daylight_saving_changes_in_berlin():
    daily = Schedule.of({"Cron": "30 2 * * *", "Timezone": "Europe/Berlin"})
    # spring: 02:30 does not exist on 2026-03-29; that day's run moves to 03:00
    assert times(daily, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 3) == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]
    # autumn: 02:30 happens twice on 2026-10-25; it runs once, then every day at 02:30
    autumn = times(daily, datetime(2026, 10, 24, 12, tzinfo=BERLIN), 3)
    assert [t[11:16] for t in autumn] == ["02:30"] * 3
    assert autumn[0].startswith("2026-10-25T02:30") and autumn[1].startswith("2026-10-26")
    weekly = Schedule.of({"Cron": "0 3 * * 1", "Timezone": "Europe/Berlin"})
    assert times(weekly, datetime(2026, 3, 20, tzinfo=BERLIN), 3) == [
        "2026-03-23T03:00:00+01:00", "2026-03-30T03:00:00+02:00", "2026-04-06T03:00:00+02:00"]


def test_month_ends_and_leap_days():
    last_days = Schedule.of({"Cron": "0 12 31 * *", "Timezone": "UTC"})
    assert [t[:10] for t in times(last_days, NOW, 4)] == [
        "2026-12-31", "2027-01-31", "2027-03-31", "2027-05-31"]
    leap = Schedule.of({"Cron": "0 0 29 2 *", "Timezone": "UTC"})
    assert times(leap, NOW, 1) == ["2028-02-29T00:00:00+00:00"]
    firsts = Schedule.of({"Cron": "15 0 1 * *", "Timezone": "Europe/Berlin"})
    assert times(firsts, datetime(2026, 12, 31, 23, 50, tzinfo=BERLIN), 2) == [
        "2027-01-01T00:15:00+01:00", "2027-02-01T00:15:00+01:00"]


def test_until_count_and_the_latest_occurrence():
    until = Schedule.of({"Cron": "0 3 * * *", "Timezone": "UTC", "Until": "2026-12-02"})
    assert [t[:10] for t in times(until, NOW, 5)] == ["2026-12-01", "2026-12-02"]
    minutely = Schedule.of({"Cron": "* * * * *", "Timezone": "UTC"})
    assert minutely.latest_until(NOW + timedelta(seconds=30)) == NOW
    assert minutely.latest_until(NOW) == NOW
    assert minutely.next_after(NOW) == NOW + timedelta(minutes=1)
    assert Schedule.of({"Cron": "0 3 * * *", "Count": 20}).count == 20


def test_the_clock_refuses_a_past_at_and_an_until_before_the_first_time():
    with pytest.raises(ConfigError) as past:
        Schedule.of({"At": "2026-11-30T08:59:00+01:00"}).check(NOW)
    assert past.value.key == "Schedule.At" and "in the past" in past.value.message
    Schedule.of({"At": "2026-11-30T09:01:00+01:00"}).check(NOW)
    with pytest.raises(ConfigError) as early:
        Schedule.of({"Cron": "0 3 * * *", "Until": "2026-11-30T02:00:00+00:00"}).check(NOW)
    assert early.value.key == "Schedule.Until" and "first time" in early.value.message


@pytest.mark.parametrize("section, key, words", [
    ({"Cron": "61 * * * *"}, "Schedule.Cron", "not a cron expression"),
    ({"Cron": "0 3 * *"}, "Schedule.Cron", "5 fields"),
    ({"Cron": "0 0 31 2 *"}, "Schedule.Cron", "never matches"),
    ({"Cron": "0 3 * * 1", "Timezone": "Mars/Olympus"}, "Schedule.Timezone", "IANA"),
    ({"At": "tomorrow"}, "Schedule.At", "ISO time"),
    ({"At": "2027-01-01T00:00:00+01:00", "Cron": "* * * * *"}, "Schedule", "either At"),
    ({}, "Schedule", "either At"),
    ({"Cron": "* * * * *", "Catchup": "all"}, "Schedule.Catchup", "latest, none"),
    ({"Cron": "* * * * *", "Count": 0}, "Schedule.Count", "at least 1"),
    ({"Cron": "* * * * *", "Count": 2, "Until": "2027-01-01"}, "Schedule.Until", "not both"),
    ({"At": "2027-01-01T00:00:00+01:00", "Count": 2}, "Schedule.Count", "recurring"),
    ({"Every": "day"}, "Schedule.Every", "allowed here"),
])
def test_bad_schedules_name_the_key(section, key, words):
    with pytest.raises(ConfigError) as error:
        validate(section)
    assert error.value.key == key and words in error.value.message


def test_yaml_times_become_iso_text_and_a_time_without_offset_takes_the_zone():
    config = load_config("Schedule:\n  Cron: '0  3 * * 1'\n  Timezone: Europe/Berlin\n"
                         "  Until: 2027-06-30\n  Catchup: none\n")
    assert config["Schedule"] == {"Cron": "0 3 * * 1", "Timezone": "Europe/Berlin",
                                  "Until": "2027-06-30", "Catchup": "none"}
    at = load_config("Schedule:\n  At: 2026-12-24T03:00:00+01:00\n")["Schedule"]["At"]
    assert at == "2026-12-24T03:00:00+01:00"
    naive = Schedule.of({"At": "2026-12-24T03:00:00", "Timezone": "Europe/Berlin"})
    assert naive.at.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("cron, words", [
    ("0 3 * * 1", "At 03:00, only on Monday"),
    ("* * * * *", "Every minute"),
    ("*/15 8-18 * * mon-fri", "Every 15 minutes, between 08:00 and 18:59, Monday through Friday"),
    ("0 3 * * 1#2", "At 03:00, on the second Monday of the month"),
    ("0 0 L * *", "At 00:00, on the last day of the month"),
])
def test_every_cron_the_schedule_accepts_reads_in_words(cron, words):
    assert Schedule.of({"Cron": cron, "Timezone": "UTC"}).cron == cron  # accepted
    assert cron_in_words(cron) == words
