"""``mantik-jupyter schedules ...`` and the ``--at``/``--cron`` flags of ``submit``.

``schedules tick`` is what a user puts in a crontab or a systemd timer: it queues what is
due and brings the runs up to date, with no Jupyter server running.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .request import SubmitRequest


def add_when_flags(p: argparse.ArgumentParser, cron_required: bool = False) -> None:
    """The flags that make a ``Schedule`` section (``submit`` and ``schedules add``)."""
    if not cron_required:
        p.add_argument("--at", metavar="TIME",
                       help="start once at this time (ISO, e.g. 2026-12-24T03:00:00+01:00); "
                            "the site holds the job until then")
    p.add_argument("--cron", required=cron_required, metavar="EXPR",
                   help="repeat on this 5-field cron (e.g. '0 3 * * 1'): adds a schedule")
    p.add_argument("--timezone", metavar="ZONE",
                   help="IANA zone of --cron and of a --at without offset (default: local)")
    p.add_argument("--until", metavar="TIME", help="no occurrence after this date or time")
    p.add_argument("--count", type=int, metavar="N", help="at most N occurrences")
    p.add_argument("--catchup", choices=("latest", "none"),
                   help="after downtime: one run for the latest missed occurrence (default), "
                        "or none")


def schedule_section(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``Schedule`` section the flags ask for (None: none given)."""
    flags = {"At": getattr(args, "at", None), "Cron": args.cron, "Timezone": args.timezone,
             "Until": args.until, "Count": args.count, "Catchup": args.catchup}
    section = {key: value for key, value in flags.items() if value is not None}
    return section or None


def request_of(args: argparse.Namespace) -> SubmitRequest:
    """The submission the flags describe (the ``Schedule`` flags merged into the config)."""
    return SubmitRequest.from_json({
        "notebook": args.notebook, "site": args.site, "config_file": args.config,
        "parameter_texts": args.param or [], "name": args.name,
        "schedule": schedule_section(args)})


def _service() -> Any:
    from .service import RunService

    return RunService()


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _line(schedule: dict[str, Any]) -> str:
    state = "deleted" if schedule["deleted"] else "paused" if schedule["paused"] else "active"
    last = schedule["last_run"]
    return (f"{schedule['id']:12}  {state:7}  {schedule['cron']:15}  "
            f"{schedule['next_time'] or '-':25}  {last['state'] if last else '-':9}  "
            f"{schedule['name']}")


def cmd_add(args: argparse.Namespace) -> int:
    schedule = _service().add_schedule(request_of(args))
    if args.json:
        _print(schedule)
    else:
        print(schedule["id"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    service = _service()
    service.tick_schedules()
    schedules = service.schedules(deleted=args.all)
    if args.json:
        _print(schedules)
        return 0
    print(f"{'ID':12}  {'STATE':7}  {'CRON':15}  {'NEXT (UTC)':25}  {'LAST RUN':9}  NAME")
    for schedule in schedules:
        print(_line(schedule))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    service = _service()
    service.tick_schedules()
    schedule = service.schedule(args.schedule)
    runs = json.loads(service.schedule_runs_json(schedule["id"]))["runs"]
    if args.json:
        _print({**schedule, "history": runs})
        return 0
    for key in ("id", "name", "site", "notebook", "cron", "timezone", "until", "count",
                "catchup", "paused", "deleted", "next_time", "last_error"):
        if schedule.get(key) not in (None, ""):
            print(f"{key:>10}: {schedule[key]}")
    for item in runs:
        run = item["run"]
        print(f"  {item['occurrence']}  {run['id'] if run else '-':12}  "
              f"{run['state'] if run else '(run deleted)'}")
    return 0


def _action(name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        schedule = getattr(_service(), f"{name}_schedule")(args.schedule)
        print(_line(schedule))
        return 0

    return run


def cmd_tick(args: argparse.Namespace) -> int:
    service = _service()
    changed = service.tick_schedules()
    service.sync()
    if args.json:
        _print(changed)
    else:
        for schedule in changed:
            print(_line(schedule))
    return 0


def register(sub: Any) -> None:
    """Add ``schedules`` and its sub-commands to the top-level parser."""
    top = sub.add_parser("schedules", help="recurring runs the site holds until their time",
                         description="recurring runs: the next occurrence always waits on "
                                     "the site, so it runs while no Jupyter is up")
    inner = top.add_subparsers(dest="schedules_command", required=True, metavar="ACTION")

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = inner.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=handler)
        return p

    p = add("add", cmd_add, "add a recurring schedule for a notebook and queue its first run")
    p.add_argument("notebook", help="path of the .ipynb file (its project is snapshotted)")
    p.add_argument("--site", help="site name (default: the config's Site, else 'local')")
    p.add_argument("--config", help="run configuration YAML file")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE")
    p.add_argument("--name", help="schedule name (its runs are NAME-<time>)")
    p.add_argument("--json", action="store_true")
    add_when_flags(p, cron_required=True)

    p = add("list", cmd_list, "list schedules with their next time and last run")
    p.add_argument("--all", action="store_true", help="deleted ones too")
    p.add_argument("--json", action="store_true")

    p = add("show", cmd_show, "show one schedule and its history")
    p.add_argument("schedule", help="schedule id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true")

    for name, verb, help_text in (
            ("pause", "pause", "pause: the run waiting on the site is cancelled"),
            ("resume", "resume", "resume: the next occurrence is queued"),
            ("remove", "remove", "delete: the waiting run is cancelled, the history kept")):
        p = add(name, _action(verb), help_text)
        p.add_argument("schedule", help="schedule id (a unique prefix is enough)")

    p = add("tick", cmd_tick, "queue what is due and update runs (for a crontab or timer)")
    p.add_argument("--json", action="store_true")
