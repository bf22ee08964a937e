"""Child services (JupyterLab, MLflow, the simulator) started, awaited and stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def alive(pid: int) -> bool:
    """True while process ``pid`` runs; one that exited but is not reaped yet (a zombie) is
    gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the state follows the command name, which is in parentheses and may hold spaces
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def answers(url: str, headers: dict[str, str] | None = None) -> bool:
    """True once ``url`` answers with a 2xx."""
    import requests

    try:
        return requests.get(url, headers=headers, timeout=5).ok
    except requests.RequestException:
        return False


class ManagedProcess:
    """A service in its own session, logging to a file, stopped with its whole group."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict | None = None,
                 cwd: Path | None = None):
        self.name, self.argv, self.log = name, list(argv), log
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    def wait_until(self, url: str, timeout: float = 120,
                   headers: dict[str, str] | None = None) -> None:
        """Block until ``url`` answers; raise with the log's tail if the process died."""
        deadline = time.monotonic() + timeout
        while not answers(url, headers):
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; its log {self.log} ends:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer at {url} within {timeout:.0f} s")
            time.sleep(0.25)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
