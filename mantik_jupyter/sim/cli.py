"""``mantik-jupyter sim start|stop``: argument parsing only; the server is imported when run."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..processes import alive

if TYPE_CHECKING:
    from .config import SimConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sim`` command (``start`` and ``stop``) to a CLI's sub-commands."""
    sim = subparsers.add_parser("sim", help="a local HPC site: UNICORE and FirecREST over Slurm")
    sub = sim.add_subparsers(dest="sim_command", required=True)

    start = sub.add_parser("start", help="run the simulated site (foreground unless --detach)")
    start.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free "
                       "one, written to the root's state file, where the presets find it)")
    start.add_argument("--executor", choices=("auto", "slurm", "process"), default="auto",
                       help="run jobs on Slurm, on local processes, or Slurm if reachable (auto)")
    start.add_argument("--root", type=Path, help="folder for jobs and state "
                       "(default $MANTIK_JUPYTER_HOME/sim or <jupyter data dir>/mantik/sim)")
    start.add_argument("--detach", action="store_true", help="run in the background")
    start.add_argument("--token-lifetime", type=int, default=300,
                       help="seconds (default 300); like FirecREST, a token with under 30 s "
                            "left is refused")
    start.add_argument("--site", default="DEMO-SITE", help="UNICORE site name")
    start.add_argument("--username", default="demouser", help="UNICORE Basic user")
    start.add_argument("--password", help="UNICORE Basic password (default: made anew, kept "
                       "in the root's owner-only login.json)")
    start.add_argument("--client-id", default="demo-client", help="FirecREST OIDC client id")
    start.add_argument("--client-secret", help="FirecREST client secret (default: made anew, "
                       "kept in login.json)")
    start.add_argument("--system", dest="systems", action="append",
                       help="FirecREST system name (repeat; default daint-sim and eiger-sim)")
    start.add_argument("--slurm-conf", help="slurm.conf to use (default $SLURM_CONF)")
    start.add_argument("--fault", dest="faults", action="append", default=[],
                       metavar="RULE", help="fault rule, e.g. route=/jobs,methods=POST,"
                       "error_rate=0.2,latency=0.2 (repeat; change at run time via /_sim/faults)")
    start.set_defaults(func=run_start)

    stop = sub.add_parser("stop", help="stop a simulator started with --detach")
    stop.add_argument("--root", type=Path, help="the folder it was started with")
    stop.set_defaults(func=run_stop)


def _root(args: argparse.Namespace) -> Path:
    from .config import default_root

    return (args.root or default_root()).expanduser().resolve()


def _settings(args: argparse.Namespace) -> dict:
    """Simulator/SimConfig keyword settings from the ``start`` arguments."""
    given = {"password": args.password, "client_secret": args.client_secret}
    return {
        "root": _root(args), "port": args.port, "executor": args.executor,
        "token_lifetime": args.token_lifetime, "site": args.site, "username": args.username,
        "client_id": args.client_id, "slurm_conf": args.slurm_conf,
        "systems": tuple(args.systems or ("daint-sim", "eiger-sim")),
        **{k: v for k, v in given.items() if v is not None},  # else made anew
    }


def run_start(args: argparse.Namespace) -> int:
    """Start the simulator and print where it is and how to log in."""
    from .faults import FaultRule
    from .simulator import Simulator

    if args.detach:
        return _detach(args)
    try:
        sim = Simulator(**_settings(args), faults=[FaultRule.parse(f) for f in args.faults]).start()
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"mantik-jupyter sim: error: {exc}", file=sys.stderr)
        return 2
    print(describe(sim.config, sim.state(), sim.login()), flush=True)
    stopped = False

    def on_signal(*_: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopped:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    sim.stop()
    print("simulator stopped", flush=True)
    return 0


def describe(config: SimConfig, state: dict, login: dict) -> str:
    """URLs, credentials and the site profiles that point at a running simulator."""
    urls = state["urls"]
    base = urls["firecrest"].rsplit("/firecrest/", 1)[0]
    lines = [f"mantik-jupyter site simulator on {base} "
             f"(executor: {state['executor']}, root: {config.root})"]
    if state.get("notice"):
        lines.append(f"NOTE: {state['notice']}")
    lines += [
        "",
        f"UNICORE    {urls['unicore']}",
        f"           Basic user {login['username']!r} password {login['password']!r}"
        " (or a Bearer token)",
        f"FirecREST  {urls['firecrest']}  systems: {', '.join(config.systems)}",
        f"           token URL {urls['token']}",
        f"           client id {login['client_id']!r} secret {login['client_secret']!r}",
        f"Controls   {base}/_sim/faults (GET/PUT), /_sim/tokens/expire, /_sim/jobs/ID/kill,"
        " /_sim/node/fail",
        "",
        "Submit to it with the preset sites (they find a simulator started on the default",
        "root of this mantik home and log in with its login.json there):",
        "  mantik-jupyter submit NOTEBOOK --site sim-unicore",
        "  mantik-jupyter submit NOTEBOOK --site sim-firecrest",
        "or add a site of your own: mantik-jupyter sites add NAME --base sim-unicore ...",
    ]
    return "\n".join(lines)


def _detach(args: argparse.Namespace) -> int:
    """Run ``sim start`` in a new session, wait until it serves, then describe it.

    The background process writes only errors to ``ROOT/sim.log``: never the credentials.
    """
    from .config import SimConfig
    from .simulator import read_login, read_state

    config = SimConfig(**_settings(args))
    argv = ["start", "--root", str(config.root), "--port", str(args.port),
            "--executor", args.executor, "--token-lifetime", str(args.token_lifetime),
            "--site", args.site, "--username", args.username, "--client-id", args.client_id]
    # credentials the user chose; made ones never appear on a command line others can read
    for flag, value in (("--password", args.password), ("--client-secret", args.client_secret)):
        if value is not None:
            argv += [flag, value]
    for system in args.systems or ():
        argv += ["--system", system]
    for rule in args.faults:
        argv += ["--fault", rule]
    if args.slurm_conf:
        argv += ["--slurm-conf", args.slurm_conf]
    config.root.mkdir(parents=True, exist_ok=True)
    log = config.root / "sim.log"
    with open(log, "w") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "mantik_jupyter.sim", *argv],
            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.time() + 30
    while time.time() < deadline:
        if child.poll() is not None:
            print(log.read_text(), end="", file=sys.stderr)
            return child.returncode or 2
        state = read_state(config.root)
        if state.get("pid") == child.pid:
            print(describe(config, state, read_login(config.root)))
            print(f"\n(running in the background as pid {child.pid}; "
                  f"stop with: mantik-jupyter sim stop --root {config.root})")
            return 0
        time.sleep(0.1)
    print(f"mantik-jupyter sim: error: no answer after 30 s, see {log}", file=sys.stderr)
    return 2


def run_stop(args: argparse.Namespace) -> int:
    """Stop the simulator recorded in the root's state file (SIGTERM to its pid)."""
    from .simulator import STATE_FILE, read_state

    root = _root(args)
    pid = read_state(root).get("pid")
    if not pid or not _is_simulator(pid):
        print(f"no simulator running for {root}")
        (root / STATE_FILE).unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not _is_simulator(pid):
            print(f"simulator (pid {pid}) stopped")
            return 0
        time.sleep(0.05)
    print(f"mantik-jupyter sim: error: pid {pid} did not stop", file=sys.stderr)
    return 1


def _is_simulator(pid: int) -> bool:
    """True when ``pid`` is alive and runs mantik_jupyter (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"mantik" in cmdline and alive(pid)
