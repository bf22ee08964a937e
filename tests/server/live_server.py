"""A real ``jupyter server`` process with the extension, for restart and fuzz tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``python -m jupyter_server`` on a free loopback port, under a JupyterHub-style base URL."""

    def __init__(self, root: Path, home: Path, mlflow_uri: str, base_url: str = "/user/alice/"):
        self.root, self.home, self.base_url = root, home, base_url
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri}
        self.proc: subprocess.Popen | None = None
        self.log = home.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    @property
    def api(self) -> str:
        return f"{self.url}mantik/api/"

    def start(self, timeout: float = 60) -> LiveServer:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                 "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                 "--ServerApp.port_retries=0", f"--ServerApp.base_url={self.base_url}",
                 f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                 f"--MantikJupyter.home={self.home}", "--MantikJupyter.poll_min_interval=0.3",
                 "--MantikJupyter.poll_max_interval=2"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.request("GET", "config").status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kwargs)
