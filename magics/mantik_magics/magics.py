"""The ``%mantik_*`` magics: submit the notebook as a run, and follow, list and manage runs.

Every magic has ``-h``. Errors the engine or the server report on purpose become one line
(IPython's ``UsageError``: no traceback, and the cell counts as failed).
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .client import Client, connect
from .errors import ClientError
from .lists import RunList, ScheduleList, SiteList
from .records import DOWNLOAD_ROOT, RunRecord, in_kernel, is_sweep, summary

RUN_ID_ENV = "MANTIK_RUN_ID"
SITE_ENV = "MANTIK_SITE"


class _HelpShown(Exception):
    """Raised after ``-h`` printed the help: the magic does nothing else."""


class _Help(argparse.Action):
    """``-h``: print the magic's help, then stop the magic."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, help="show this help and do nothing")

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        print(parser.format_help())
        raise _HelpShown


def _magic(func: Callable[..., Any]) -> Callable[..., Any]:
    """Parse the magic's arguments and turn the engine's errors into one clean line."""

    @functools.wraps(func)
    def run(self: MantikMagics, line: str = "", cell: str | None = None) -> Any:
        try:
            args = run.parser.parse_argstring(line)
            return func(self, args, cell)
        except _HelpShown:
            return None
        except ClientError as exc:
            raise UsageError(f"mantik: {exc.message}") from None

    return run


def _unquoted(text: str) -> str:
    """A value without the quotes around it (IPython's argument split keeps them)."""
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


run_argument = argument("run", help="run id (a unique prefix is enough)")
help_argument = argument("-h", "--help", action=_Help)
param_argument = argument("-p", "--param", action="append", metavar="NAME=VALUE",
                          help="notebook parameter, converted to its declared type (repeatable)")
wait_argument = argument("--wait", action="store_true",
                         help="block until the run ends (Ctrl-C stops waiting, not the run)")
follow_argument = argument("--follow", action="store_true",
                           help="print the run's log into the output until the run ends")


@magics_class
class MantikMagics(Magics):
    """Submit this notebook to an HPC site (or this machine) and manage its runs."""

    _client: Client | None = None

    @property
    def client(self) -> Client:
        """The engine client, chosen on first use (REST if a server started this kernel)."""
        if self._client is None:
            self._client = connect()
        return self._client

    def _show(self, run: dict[str, Any]) -> RunRecord:
        """A live card in a kernel (the returned record is the one it keeps current and is
        not echoed below it), one summary line in a terminal."""
        if in_kernel():
            from .widgets import show_card

            return show_card(self.client, run)
        print(summary(run))
        return RunRecord(run)

    def _finish(self, run: dict[str, Any], args: argparse.Namespace) -> RunRecord:
        """Show a new run; with ``--wait`` or ``--follow`` block until it ends (a sweep:
        until all its points ended)."""
        record = self._show(run)
        if not (args.wait or args.follow):
            return record
        from .watch import wait

        sweep = is_sweep(record)
        if sweep and args.follow:
            print("a sweep has no one log to follow: waiting for its points to end "
                  "(%mantik_logs POINT_RUN follows one)", flush=True)
        fresh = wait(self.client, record, stream_log=args.follow and not sweep)
        card = getattr(record, "card", None)
        if card is None:
            record.replace(fresh)
        else:  # the card shows the end even if the shared poll stopped before seeing it
            card.refresh({record["id"]: fresh})
        ended = f" ({record['native_state']})" if sweep else ""
        print(f"{'sweep' if sweep else 'run'} {record['id']}: {record['state']}{ended}",
              flush=True)
        return record

    @line_cell_magic
    @magic_arguments()
    @help_argument
    @argument("--site", help="site to run on (default: the config's Site, else 'local')")
    @argument("--name", help="run name")
    @param_argument
    @wait_argument
    @follow_argument
    @argument("--notebook", metavar="PATH",
              help="the notebook to submit (default: this kernel's notebook)")
    @argument("--config", metavar="FILE", help="run configuration YAML file (line magic)")
    @argument("--at", metavar="TIME", help="start once at this ISO time; the site holds the job")
    @argument("--cron", metavar="EXPR",
              help="repeat on this 5-field cron (quote it): adds a schedule instead of a run")
    @argument("--timezone", metavar="ZONE", help="IANA zone of --cron (default: local)")
    @argument("--sweep", action="append", metavar="NAME=V1,V2",
              help="sweep a parameter (or Resources.KEY, Site) over these values "
                   "(repeatable: the grid is their product); a Sweep key in the config "
                   "sweeps too")
    @argument("--repeat", type=int, help="run each sweep point this many times")
    @argument("--max-concurrent", type=int, metavar="N",
              help="at most this many sweep points running at once")
    @_magic
    def mantik_submit(self, args: argparse.Namespace, cell: str | None) -> RunRecord | None:
        """Package this notebook and submit it as a run; the cell body is the YAML config.

        The config takes the Mantik backend-config keys (Resources, Environment, ...) and
        Site, Name, Experiment, Parameters and Sweep. Returns the run (a dict; a sweep's
        own record for a sweep, shown as a sweep card). Inside a submitted job
        (MANTIK_RUN_ID is set) it does not submit again.
        """
        run_id, site = os.environ.get(RUN_ID_ENV), os.environ.get(SITE_ENV)
        if run_id and site:
            print(f"running as run {run_id} on site {site}; not submitting again")
            return None
        if cell and cell.strip() and args.config:
            raise ClientError("give the run configuration either as the cell body or with "
                              "--config, not both", key="config")
        from .notebook import locate

        located = locate(self.client.server, args.notebook, self._current_cell())
        print(located.how, flush=True)
        # the engine's SubmitRequest JSON: it reads the config file and the NAME=VALUE items
        request: dict[str, Any] = {"notebook": located.path, "site": args.site,
                                   "parameter_texts": args.param or [], "name": args.name}
        if cell and cell.strip():
            # A leading newline for the magic's own line: YAML errors then name its line.
            request["config"] = "\n" + cell
        elif args.config:
            request["config_file"] = str(Path(args.config).expanduser().absolute())
        when = {k: _unquoted(v) for k, v in (("At", args.at), ("Cron", args.cron),
                                             ("Timezone", args.timezone)) if v}
        if when:
            request["schedule"] = when
        swept = {k: v for k, v in (("sweep_texts", args.sweep), ("repeat", args.repeat),
                                   ("max_concurrent", args.max_concurrent)) if v is not None}
        if swept and args.cron:  # --at holds a sweep like a run
            raise ClientError("--cron with --sweep, --repeat or --max-concurrent: a schedule "
                              "takes its sweep from the config's Sweep key", key="Sweep")
        request.update(swept)
        if args.cron:
            schedule = self.client.add_schedule(request)
            print(f"added schedule {schedule['id']} ({schedule['name']}): {schedule['cron']} "
                  f"in {schedule['timezone']}, next run at {schedule['next_time']} (UTC)",
                  flush=True)
            return None
        run = self.client.submit(request)
        what = f"sweep {run['id']} ({run['name']}, {run['native_state']})" if is_sweep(
            run) else f"run {run['id']} ({run['name']})"
        print(f"submitted {what} to site {run['site']} through {self.client.where}",
              flush=True)
        return self._finish(run, args)

    def _current_cell(self) -> str:
        """The raw source of the cell being run (how the notebook file is recognised)."""
        history = self.shell.history_manager.input_hist_raw
        return history[-1] if history else ""

    @line_magic
    @magic_arguments()
    @help_argument
    @argument("--site", help="only runs on this site")
    @argument("--state", action="append", help="only runs in this state (repeatable)")
    @argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    @_magic
    def mantik_runs(self, args: argparse.Namespace, _cell: str | None) -> RunList:
        """List runs, newest first: an interactive table; returns the runs as dicts."""
        return RunList(self.client.runs(states=args.state, site=args.site, limit=args.limit),
                       self.client)

    @line_magic
    @magic_arguments()
    @help_argument
    @argument("--all", action="store_true", help="deleted schedules too")
    @_magic
    def mantik_schedules(self, args: argparse.Namespace, _cell: str | None) -> ScheduleList:
        """List recurring schedules with their next time and last run; returns them as
        dicts (manage them in the lab's Schedules section or `mantik-jupyter schedules`)."""
        return ScheduleList(self.client.schedules(deleted=args.all), self.client, args.all)

    @line_magic
    @magic_arguments()
    @help_argument
    @run_argument
    @argument("--sort", metavar="METRIC",
              help="rank by this metric, lowest first (default: the sweep's objective)")
    @_magic
    def mantik_results(self, args: argparse.Namespace, _cell: str | None) -> Any:
        """A sweep's points side by side, best first: a pandas DataFrame (one row per point:
        params.*, state, duration, the last value of each metrics.*, best) when pandas is
        installed, else a list of dicts that prints as a table."""
        from .results import results_of

        return results_of(self.client.results(args.run, args.sort))

    @line_magic
    @magic_arguments()
    @help_argument
    @run_argument
    @_magic
    def mantik_status(self, args: argparse.Namespace, _cell: str | None) -> RunRecord:
        """Show one run as a live card; returns the run."""
        return self._show(self.client.run(args.run))

    @line_magic
    @magic_arguments()
    @help_argument
    @run_argument
    @argument("--follow", "-f", action="store_true",
              help="keep printing until the run ends (Ctrl-C stops following)")
    @argument("--offset", type=int, default=0, help="start at this byte offset")
    @_magic
    def mantik_logs(self, args: argparse.Namespace, _cell: str | None) -> None:
        """Print a run's log (from the job on its site)."""
        if not args.follow:
            print(self.client.logs(args.run, args.offset)["data"], end="", flush=True)
            return
        from .watch import follow

        try:
            follow(self.client, args.run, args.offset)
        except KeyboardInterrupt:
            print(f"\nstopped following the log of run {args.run} (the run goes on)",
                  flush=True)

    @line_magic
    @magic_arguments()
    @help_argument
    @run_argument
    @_magic
    def mantik_cancel(self, args: argparse.Namespace, _cell: str | None) -> RunRecord:
        """Cancel a queued or running run; returns it."""
        run = RunRecord(self.client.cancel(args.run))
        print(f"run {run['id']}: {run['state']}")
        return run

    @line_magic
    @magic_arguments()
    @help_argument
    @run_argument
    @param_argument
    @argument("--site", help="site to run on (default: the run's site)")
    @argument("--name", help="name of the new run")
    @wait_argument
    @follow_argument
    @_magic
    def mantik_rerun(self, args: argparse.Namespace, _cell: str | None) -> RunRecord:
        """Submit a run's notebook again with its config and any overrides; returns the new run."""
        run = self.client.rerun(args.run, {"parameter_texts": args.param or [],
                                           "site": args.site, "name": args.name})
        print(f"submitted run {run['id']} ({run['name']}) again from run {args.run}",
              flush=True)
        return self._finish(run, args)

    @line_magic
    @magic_arguments()
    @help_argument
    @run_argument
    @argument("path", nargs="?", default="",
              help="file or folder in the run's directory (default: all of it)")
    @argument("--to", metavar="DIR",
              help=f"destination folder (default: {DOWNLOAD_ROOT}/, in a folder named by the run)")
    @_magic
    def mantik_download(self, args: argparse.Namespace, _cell: str | None) -> Path:
        """Copy a file or folder of a run's directory here; returns the local path."""
        if args.to:
            to = Path(args.to).expanduser()
        elif args.path.strip("/"):  # a part of the run goes to a folder named by its full id
            to = Path(DOWNLOAD_ROOT) / self.client.run(args.run)["id"]
        else:  # the whole run directory arrives as a folder named by its id
            to = Path(DOWNLOAD_ROOT)
        target = self.client.download(args.run, args.path, to)
        print(f"downloaded {target}")
        return target

    @line_magic
    @magic_arguments()
    @help_argument
    @_magic
    def mantik_sites(self, _args: argparse.Namespace, _cell: str | None) -> SiteList:
        """The sites runs can be submitted to; returns them as dicts."""
        return SiteList(self.client.sites())
