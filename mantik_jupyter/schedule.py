"""The ``Schedule`` key of a run configuration: start once later (``At``) or repeat (``Cron``).

``validate`` checks the key's shape where the rest of the config is checked (cron syntax,
IANA zone, times with their offsets); :class:`Schedule` reads a validated section and
answers what depends on the clock: is ``At`` still ahead, when is the next occurrence,
which was the latest one that passed. Cron times are computed by croniter in the
schedule's zone, so ``0 3 * * *`` stays at 03:00 local time across daylight-saving changes
(a time the change skips moves to the first valid one after it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import ExpressionDescriptor, Options
from croniter import CroniterBadDateError, croniter

from .errors import ConfigError

KEYS = ("At", "Cron", "Timezone", "Until", "Count", "Catchup")
CATCHUP = ("latest", "none")
TIME_HELP = "an ISO time such as 2026-12-24T03:00:00+01:00"
CRON_HELP = ("5 fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * 1' "
             "(Mondays at 03:00)")


def local_zone() -> str:
    """The IANA name of this machine's zone (``TZ``, else ``/etc/localtime``), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(str(Path("/etc/localtime").resolve()).partition("zoneinfo/")[2])
    for name in candidates:
        if name and _zone_or_none(name):
            return name
    return "UTC"


def _zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone(name: Any, key: str = "Schedule.Timezone") -> ZoneInfo:
    """The IANA zone ``name``, or an error naming the key."""
    found = _zone_or_none(name) if isinstance(name, str) and name.strip() else None
    if found is None:
        raise ConfigError(f"{key}: {name!r} is not a known time zone; use an IANA name such "
                          "as Europe/Berlin or UTC", key=key)
    return found


def _moment(value: Any, key: str, where: tzinfo) -> datetime:
    """A time from YAML (datetime, date) or ISO text; a time without offset is in ``where``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.max)  # a date ends a schedule at its last moment
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not a time; use {TIME_HELP}",
                              key=key) from None
        if len(text) == 10:  # a date alone (2027-06-30): the whole day counts
            moment = datetime.combine(moment.date(), time.max)
    else:
        raise ConfigError(f"{key}: {value!r} is not a time; use {TIME_HELP}", key=key)
    return moment if moment.tzinfo else moment.replace(tzinfo=where)


def _checked_time(value: Any, key: str, where: tzinfo) -> str:
    """A time checked to parse, as the user wrote it (YAML's dates and times as ISO text)."""
    _moment(value, key, where)
    return value.isoformat() if isinstance(value, (date, datetime)) else value.strip()


def _cron(value: Any, key: str = "Schedule.Cron") -> str:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise ConfigError(f"{key}: {value!r} is not a cron expression; use {CRON_HELP}",
                          key=key)
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except CroniterBadDateError:
        raise ConfigError(f"{key}: {value!r} never matches a date (such as day 31 of "
                          "February)", key=key) from None
    return text


def cron_in_words(cron: str) -> str:
    """A (valid) 5-field cron in English words, 24-hour times: "At 03:00, only on Monday"."""
    options = Options()
    options.use_24hour_time_format = True
    return ExpressionDescriptor(cron, options).get_description()


def validate(value: Any, key: str = "Schedule") -> dict[str, Any]:
    """Check the shape of a ``Schedule`` section (no clock involved); times become ISO text
    so the section stays JSON, as stored with its runs."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping with At, or Cron (and Timezone, Until "
                          f"or Count, Catchup), got {value!r}", key=key)
    unknown = sorted(str(k) for k in value if k not in KEYS)
    if unknown:
        raise ConfigError(f"unknown key {key}.{unknown[0]!r}; allowed here: "
                          f"{', '.join(sorted(KEYS))}", key=f"{key}.{unknown[0]}")
    if ("At" in value) == ("Cron" in value):
        raise ConfigError(f"{key}: give either At (one run at a time) or Cron (recurring runs)",
                          key=key)
    result: dict[str, Any] = {}
    where: tzinfo = timezone.utc
    if "Timezone" in value:
        where = zone(value["Timezone"], f"{key}.Timezone")
        result["Timezone"] = value["Timezone"]
    if "At" in value:
        for extra in ("Until", "Count", "Catchup"):
            if extra in value:
                raise ConfigError(f"{key}.{extra}: only a recurring schedule (Cron) has it",
                                  key=f"{key}.{extra}")
        result["At"] = _checked_time(value["At"], f"{key}.At", where)
        return result
    result["Cron"] = _cron(value["Cron"], f"{key}.Cron")
    if "Until" in value and "Count" in value:
        raise ConfigError(f"{key}: give Until or Count, not both", key=f"{key}.Until")
    if "Until" in value:
        result["Until"] = _checked_time(value["Until"], f"{key}.Until", where)
    if "Count" in value:
        count = value["Count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"{key}.Count: expected a whole number of at least 1, got "
                              f"{count!r}", key=f"{key}.Count")
        result["Count"] = count
    if "Catchup" in value:
        if value["Catchup"] not in CATCHUP:
            raise ConfigError(f"{key}.Catchup: {value['Catchup']!r} is not allowed; use one of "
                              f"{', '.join(CATCHUP)}", key=f"{key}.Catchup")
        result["Catchup"] = value["Catchup"]
    return result


@dataclass(frozen=True)
class Schedule:
    """A validated ``Schedule`` section with its zone resolved."""

    zone: ZoneInfo
    at: datetime | None = None
    cron: str | None = None
    until: datetime | None = None
    count: int | None = None
    catchup: str = "latest"

    @classmethod
    def of(cls, section: Mapping[str, Any], default_zone: str | None = None) -> Schedule:
        """Read a section ``validate`` accepted; without Timezone, ``default_zone`` (else
        this machine's) is the zone cron times are in."""
        where = zone(section.get("Timezone") or default_zone or local_zone())
        at = _moment(section["At"], "Schedule.At", where) if "At" in section else None
        until = (_moment(section["Until"], "Schedule.Until", where)
                 if "Until" in section else None)
        return cls(where, at, section.get("Cron"), until, section.get("Count"),
                   section.get("Catchup", "latest"))

    @property
    def recurring(self) -> bool:
        return self.cron is not None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after ``moment``; None past Until.

        When clocks go back, a wall time that comes again is not run again (a daily 02:30
        runs once that night, as cron does); a cron for every hour keeps its pace."""
        local = moment.astimezone(self.zone)
        times = croniter(self.cron, local)
        found = times.get_next(datetime)
        if self.cron.split()[1] != "*":
            while found.replace(tzinfo=None) <= local.replace(tzinfo=None):
                found = times.get_next(datetime)
        return None if self.until and found > self.until else found

    def latest_until(self, moment: datetime) -> datetime:
        """The last occurrence at or before ``moment`` (Until aside)."""
        local = moment.astimezone(self.zone)
        if croniter.match(self.cron, local):
            return local.replace(second=0, microsecond=0)
        return croniter(self.cron, local).get_prev(datetime)

    def check(self, now: datetime) -> None:
        """Refuse what the clock makes wrong: At in the past, Until before the first time."""
        if self.at is not None and self.at <= now:
            raise ConfigError(f"Schedule.At: {self.at.isoformat()} is in the past (it is now "
                              f"{now.astimezone(self.at.tzinfo).isoformat(timespec='seconds')}"
                              "); give a time ahead", key="Schedule.At")
        if self.recurring and self.next_after(now) is None:
            first = croniter(self.cron, now.astimezone(self.zone)).get_next(datetime)
            raise ConfigError(f"Schedule.Until: {self.until.isoformat()} is before the first "
                              f"time {first.isoformat()} of {self.cron!r}; nothing would run",
                              key="Schedule.Until")
