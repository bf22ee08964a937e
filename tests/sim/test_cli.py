"""``python -m mantik_jupyter.sim start|stop`` as a user runs it (process executor: no root)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest


def sim_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mantik_jupyter.sim", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_cli_module_does_not_import_the_server():
    code = ("import sys, mantik_jupyter.sim.cli, mantik_jupyter.sim; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tornado', 'httpx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_detached_start_prints_how_to_connect_and_stop_ends_it(tmp_path):
    """Two users' simulators: each on a free port of its own, with credentials made for it
    in an owner-only login file (never in the state file, its log or a command line)."""
    roots = [tmp_path / "one", tmp_path / "two"]
    started = [sim_cli("start", "--detach", "--executor", "process", "--root", str(root))
               for root in roots]
    try:
        assert all(s.returncode == 0 for s in started), [s.stderr for s in started]
        states = [json.loads((root / "sim.json").read_text()) for root in roots]
        logins = [json.loads((root / "login.json").read_text()) for root in roots]
        assert states[0]["port"] != states[1]["port"]
        assert logins[0]["password"] != logins[1]["password"]
        assert logins[0]["client_secret"] != logins[1]["client_secret"]
        assert all(stat.S_IMODE((root / "login.json").stat().st_mode) == 0o600
                   for root in roots)
        state, login, out = states[0], logins[0], started[0].stdout
        base = f"http://127.0.0.1:{state['port']}"
        for text in (f"{base}/DEMO-SITE/rest/core", f"{base}/firecrest/v2", f"{base}/auth/token",
                     "demouser", login["password"], "demo-client", login["client_secret"],
                     "daint-sim", "--site sim-unicore", "--site sim-firecrest",
                     "executor: process"):
            assert text in out
        auth = ("demouser", login["password"])
        assert httpx.get(f"{base}/DEMO-SITE/rest/core", auth=auth).is_success
        assert httpx.get(f"{base}/DEMO-SITE/rest/core", auth=("demouser", "test123")
                         ).status_code == 401  # the once published demo password
        assert set(state) >= {"pid", "port", "urls", "executor"}
        assert login["password"] not in json.dumps(state)
        assert login["password"] not in (roots[0] / "sim.log").read_text()
        assert login["password"] not in Path(f"/proc/{state['pid']}/cmdline").read_text()
    finally:
        stopped = [sim_cli("stop", "--root", str(root)) for root in roots]
    assert all(s.returncode == 0 and "stopped" in s.stdout for s in stopped)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/firecrest/v2/status/liveness/")
    assert not (roots[0] / "sim.json").exists() and not (roots[0] / "login.json").exists()


def test_auto_falls_back_to_processes_and_says_so(tmp_path):
    env = {"SLURM_CONF": str(tmp_path / "missing.conf")}
    started = sim_cli("start", "--detach", "--port", "0", "--root", str(tmp_path), env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert "falling back to the process executor" in started.stdout
        assert "executor: process" in started.stdout
    finally:
        sim_cli("stop", "--root", str(tmp_path))


def test_explicit_slurm_without_slurm_is_an_error(tmp_path):
    env = {"SLURM_CONF": str(tmp_path / "missing.conf")}
    started = sim_cli("start", "--port", "0", "--executor", "slurm", "--root", str(tmp_path),
                      env=env)
    assert started.returncode == 2
    assert "Slurm is not reachable" in started.stderr


def test_foreground_start_runs_until_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mantik_jupyter.sim", "start", "--port", "0", "--executor",
         "process", "--root", str(tmp_path), "--token-lifetime", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("mantik-jupyter site simulator on http://127.0.0.1:")
        port = json.loads((tmp_path / "sim.json").read_text())["port"]
        login = json.loads((tmp_path / "login.json").read_text())
        token = httpx.post(f"http://127.0.0.1:{port}/auth/token", data={
            "grant_type": "client_credentials", "client_id": login["client_id"],
            "client_secret": login["client_secret"]}).json()
        assert token["expires_in"] == 7
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert "simulator stopped" in out


def test_stop_without_a_running_simulator(tmp_path):
    result = sim_cli("stop", "--root", str(tmp_path))
    assert result.returncode == 0 and "no simulator running" in result.stdout
