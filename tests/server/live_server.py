"""A real ``jupyter server`` process with the extension, for restart and fuzz tests."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import requests

from mantik_jupyter.processes import ManagedProcess, free_port


class LiveServer:
    """``python -m jupyter_server`` on a free loopback port, under a JupyterHub-style base URL."""

    def __init__(self, root: Path, home: Path, mlflow_uri: str, base_url: str = "/user/alice/"):
        self.root, self.home, self.base_url = root, home, base_url
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.process = ManagedProcess(
            "jupyter server",
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
             "--ServerApp.port_retries=0", f"--ServerApp.base_url={base_url}",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
             f"--MantikJupyter.home={home}", "--MantikJupyter.poll_min_interval=0.3",
             "--MantikJupyter.poll_max_interval=2"],
            home.parent / f"server-{self.port}.log", env={"MLFLOW_TRACKING_URI": mlflow_uri},
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    @property
    def api(self) -> str:
        return f"{self.url}mantik/api/"

    def start(self) -> LiveServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process.start().wait_until(self.api + "config", 180,
                                        {"Authorization": f"token {self.token}"})
        return self

    def stop(self) -> None:
        self.process.stop()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kwargs)
