"""The ``mantik-jupyter`` command line: a thin face of :class:`RunService`.

Every error the engine raises on purpose is printed as one line and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__, registry
from .cli_progress import Display
from .errors import ConfigError, MantikError
from .request import RerunChanges
from .runfilter import RunFilter
from .schedules_cli import add_when_flags, request_of
from .schedules_cli import register as register_schedules
from .sites_cli import register as register_sites

Handler = Callable[[argparse.Namespace], int]


def _service() -> Any:
    from .service import RunService

    return RunService()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _show_run(service: Any, run: Any, as_json: bool) -> None:
    if as_json:
        _print_json(service.run_record(run.id))
        return
    rows = [("id", run.id), ("name", run.name), ("site", run.site), ("notebook", run.notebook),
            ("state", run.state), ("native state", run.native_state), ("reason", run.reason),
            ("exit code", run.exit_code), ("remote job", run.remote_job_id),
            ("work dir", run.work_dir), ("parameters", json.dumps(run.parameters)),
            ("mlflow run", run.mlflow_run_id), ("created", run.created_at),
            ("started", run.started_at), ("ended", run.ended_at), ("parent", run.parent_id),
            ("bytes uploaded", run.bytes_uploaded)]
    rows += [("data", f"{item['item']} ({item['size']} bytes"
                      f"{', cached' if item['cached'] else ''})") for item in run.data]
    for key, value in rows:
        if value not in (None, ""):
            print(f"{key:>15}: {value}")


def cmd_submit(args: argparse.Namespace) -> int:
    from .sweeps import SweepRequest

    request = request_of(args)
    sweep = SweepRequest.asked(request, {"sweep_texts": args.sweep, "repeat": args.repeat,
                                         "max_concurrent": args.max_concurrent})
    if args.dry_run:
        return _dry_run(args) if sweep is None else _sweep_dry_run(args, sweep)
    service = _service()
    if "Cron" in request.spec.schedule:  # recurring: a schedule (of a sweep too), not a run
        if sweep is not None and "Sweep" not in request.spec.config:
            raise ConfigError("--cron with --sweep, --repeat or --max-concurrent: a schedule "
                              "takes its sweep from the config's Sweep key", key="Sweep")
        schedule = service.add_schedule(request)
        if args.json:
            _print_json(schedule)
        else:
            print(schedule["id"])
        return 0
    with Display(quiet=args.json) as display:
        run = service.submit(sweep or request, progress=display)  # held until Schedule.At
    if args.follow:
        _follow(service, run.id, 0)
    if args.wait or args.follow:
        run = service.wait(run.id)
    if args.json:
        _print_json(service.run_record(run.id))
    else:
        print(run.id)
    return 0 if not (args.wait or args.follow) or run.state == "COMPLETED" else 1


def _dry_run(args: argparse.Namespace) -> int:
    """List what ``submit`` would upload; nothing is staged or sent."""
    from .bundle import describe, plan
    from .spec import load_config, read_config_file

    text = read_config_file(Path(args.config), args.config) if args.config else ""
    found = plan(Path(args.notebook), load_config(text))
    if args.json:
        _print_json(found.to_dict())
    else:
        print(describe(found))
    return 0


def _sweep_dry_run(args: argparse.Namespace, sweep: Any) -> int:
    """Print a sweep's points and the arrays they form; nothing is sent."""
    found = _service().plan_sweep(sweep)
    if args.json:
        _print_json(found.to_dict())
    else:
        print(found.describe())
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from .results import results_csv, results_table

    service = _service()
    service.synced(args.run)
    results = service.results(args.run, args.sort)
    if args.json:
        _print_json(results)
    elif args.csv:
        sys.stdout.write(results_csv(results))
    else:
        print(results_table(results))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    service = _service()
    service.sync()
    run_filter = RunFilter.of(states=args.state, site=args.site, limit=args.limit)
    if args.json:
        _print_json(json.loads(service.page_json(run_filter))["runs"])
        return 0
    runs = service.list(run_filter)
    print(f"{'ID':12}  {'STATE':10}  {'SITE':14}  {'CREATED':19}  NAME")
    for run in runs:
        print(f"{run.id:12}  {run.state:10}  {run.site:14}  {run.created_at[:19]:19}  {run.name}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    service = _service()
    _show_run(service, service.synced(args.run), args.json)
    return 0


def _follow(service: Any, run_id: str, offset: int) -> None:
    out = sys.stdout.buffer
    for chunk in service.follow_logs(run_id, offset):
        out.write(chunk.data)
        out.flush()


def cmd_logs(args: argparse.Namespace) -> int:
    service = _service()
    if args.follow:
        _follow(service, args.run, args.offset)
    else:
        service.synced(args.run)
        sys.stdout.buffer.write(service.logs(args.run, args.offset, args.limit).data)
        sys.stdout.buffer.flush()
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    run = _service().cancel(args.run)
    print(f"{run.id} {run.state}")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    service = _service()
    changes = RerunChanges.from_json({
        "parameter_texts": args.param or [], "name": args.name, "site": args.site,
        "failed": args.failed})
    with Display(quiet=args.json) as display:
        run = service.rerun(args.run, changes, progress=display)
    if args.wait:
        run = service.wait(run.id)
    if args.json:
        _print_json(service.run_record(run.id))
    else:
        print(run.id)
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    entries = _service().files(args.run, args.path)
    if args.json:
        _print_json([e.to_dict() for e in entries])
        return 0
    for entry in entries:
        print(f"{'d' if entry.is_dir else '-'} {entry.size:>12}  {entry.path}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    service = _service()
    run_id = service.get(args.run).id
    with Display() as display:
        copy = service.download(run_id, args.path, Path(args.to),
                                progress=display.tracker(run_id))
    print(copy)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    _service().delete(args.run, remote=args.remote)
    print(f"deleted {args.run}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mantik-jupyter",
        description="Run notebooks as tracked jobs on HPC sites and on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=handler)
        return p

    def run_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("run", help="run id (a unique prefix is enough)")

    p = add("submit", cmd_submit, "package a notebook and submit it to a site")
    p.add_argument("notebook", help="path of the .ipynb file")
    p.add_argument("--site", help="site name (default: the config's Site, else 'local')")
    p.add_argument("--config", help="run configuration YAML file (Mantik keys accepted)")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="notebook parameter, converted to its declared type (repeatable)")
    p.add_argument("--name", help="run name")
    p.add_argument("--wait", action="store_true", help="wait until the run ends")
    p.add_argument("--follow", action="store_true", help="print the log until the run ends")
    p.add_argument("--json", action="store_true", help="print the run as JSON")
    p.add_argument("--dry-run", action="store_true",
                   help="list what would be uploaded (files, bytes, largest, left out), or "
                        "a sweep's points and arrays; send nothing")
    p.add_argument("--sweep", action="append", metavar="NAME=V1,V2",
                   help="sweep a parameter (or Resources.KEY, Site) over these values "
                        "(repeatable: the grid is their product)")
    p.add_argument("--repeat", type=int, help="run each sweep point this many times")
    p.add_argument("--max-concurrent", type=int,
                   help="at most this many sweep points running at once")
    add_when_flags(p)

    p = add("runs", cmd_runs, "list runs, newest first")
    p.add_argument("--state", action="append", help="only runs in this state (repeatable)")
    p.add_argument("--site", help="only runs on this site")
    p.add_argument("--limit", type=int, help="at most this many runs")
    p.add_argument("--json", action="store_true")

    p = add("show", cmd_show, "show one run")
    run_arg(p)
    p.add_argument("--json", action="store_true")

    p = add("logs", cmd_logs, "print a run's log")
    run_arg(p)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    p.add_argument("--offset", type=int, default=0, help="start at this byte offset")
    p.add_argument("--limit", type=int, help="at most this many bytes")

    p = add("cancel", cmd_cancel, "cancel a queued or running run")
    run_arg(p)

    p = add("rerun", cmd_rerun, "submit a run's notebook again (parent_id = the original)")
    run_arg(p)
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE")
    p.add_argument("--site")
    p.add_argument("--name")
    p.add_argument("--failed", action="store_true",
                   help="a sweep: re-run only its points that did not complete")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--json", action="store_true")

    p = add("results", cmd_results, "a sweep's points side by side, best first")
    run_arg(p)
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true")
    shown.add_argument("--csv", action="store_true")
    p.add_argument("--sort", metavar="METRIC",
                   help="sort by this metric (default: the sweep's objective)")

    p = add("files", cmd_files, "list files of a run's working directory")
    run_arg(p)
    p.add_argument("path", nargs="?", default="", help="folder inside the run directory")
    p.add_argument("--json", action="store_true")

    p = add("download", cmd_download, "copy a file or folder of a run to this machine")
    run_arg(p)
    p.add_argument("path", nargs="?", default="", help="file or folder (default: everything)")
    p.add_argument("--to", required=True, help="destination folder")

    p = add("delete", cmd_delete, "forget an ended run")
    run_arg(p)
    p.add_argument("--remote", action="store_true", help="also remove its working directory")

    register_sites(sub)
    register_schedules(sub)
    # commands of installed distributions (the simulator's ``sim``), by entry point
    for register in registry.load_all(registry.COMMANDS).values():
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mantik-jupyter`` script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MantikError as exc:
        print(f"mantik-jupyter: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mantik-jupyter: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
