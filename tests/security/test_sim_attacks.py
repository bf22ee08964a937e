"""Another user on a shared host: the simulator's port and credentials are this user's own,
and once it is gone, whoever holds its port by then is sent nothing."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from helpers import make_notebook, wait_until

from mantik_jupyter.errors import CredentialsError
from mantik_jupyter.processes import alive
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService


def test_a_dead_simulators_port_taken_by_someone_else_is_sent_nothing(home, tmp_path,
                                                                       mlflow_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    root = home / "sim"  # where the sim presets look
    started = subprocess.run(
        [sys.executable, "-m", "mantik_jupyter.sim", "start", "--detach", "--executor",
         "process", "--root", str(root)], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    state = json.loads((root / "sim.json").read_text())
    os.kill(state["pid"], signal.SIGKILL)  # gone without a stop: its files stay behind
    wait_until(lambda: not alive(state["pid"]), "the simulator's end")
    assert (root / "sim.json").exists() and (root / "login.json").exists()

    with socket.socket() as other_user:  # now holds the port the presets name
        # as servers do: the dead simulator's closed connections may linger in TIME_WAIT
        other_user.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # the kernel releases a killed process's listening socket a moment after the process
        # is gone (seen here as EADDRINUSE for some milliseconds): take the port once it is free
        wait_until(lambda: bound(other_user, state["port"]), "the dead simulator's port")
        other_user.listen()
        other_user.setblocking(False)
        service = RunService(home)
        nb = make_notebook(tmp_path / "p" / "nb.ipynb", None, "print(1)")
        for site in ("sim-unicore", "sim-firecrest"):
            with pytest.raises(CredentialsError) as err:
                service.submit(SubmitRequest(str(nb), site=site))
            assert f"no simulator runs on {root}; start it with 'mantik-jupyter sim start'" in \
                err.value.message, err.value.message
        with pytest.raises(BlockingIOError):
            other_user.accept()  # nobody ever connected
    assert service.list() == []  # the failed submits left no record


def bound(sock: socket.socket, port: int) -> bool:
    """True once ``sock`` is bound to 127.0.0.1:``port``; False while the port is in use."""
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        return False
    return True
