"""The client that talks to the mantik-jupyter server extension's REST API."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from .server import SUBMIT_TIMEOUT, JupyterServer

API = "mantik/api/"


class RestClient:
    """Runs and sites through ``{base_url}mantik/api/`` of the server that started the kernel."""

    def __init__(self, base_url: str, token: str | None):
        self.server = JupyterServer(base_url, token)
        self.where = f"the Jupyter server at {self.server.base_url}"

    def _run_path(self, run_id: str, tail: str = "") -> str:
        return f"{API}runs/{quote(run_id, safe='')}{tail}"

    def sites(self) -> list[dict[str, Any]]:
        """The sites runs can be submitted to."""
        return self.server.json("GET", f"{API}sites")["sites"]

    def runs(
        self, *, states: list[str] | None = None, site: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The first page of runs, newest first."""
        params = {"state": states or None, "site": site, "limit": limit}
        return self.server.json("GET", f"{API}runs", params=params)["runs"]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id (the server's poller keeps it synced)."""
        return self.server.json("GET", self._run_path(run_id))

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """POST runs: paths are relative to the server's root or absolute inside it."""
        return self.server.json("POST", f"{API}runs", body=request, timeout=SUBMIT_TIMEOUT)

    def rerun(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """POST runs/{id}/rerun with changes."""
        return self.server.json("POST", self._run_path(run_id, "/rerun"), body=changes,
                                timeout=SUBMIT_TIMEOUT)

    def cancel(self, run_id: str) -> dict[str, Any]:
        """PATCH runs/{id} with the cancel action."""
        return self.server.json("PATCH", self._run_path(run_id), body={"action": "cancel"})

    def logs(self, run_id: str, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """Log text from ``offset``."""
        return self.server.json("GET", self._run_path(run_id, "/logs"),
                                params={"offset": offset, "limit": limit})

    def download(self, run_id: str, path: str, to: Path) -> Path:
        """A file is copied as it is; a folder comes as a zip of ``<folder>/...`` and is
        unpacked into ``to``, like the engine's own copy."""
        to.mkdir(parents=True, exist_ok=True)
        with self.server.open("GET", self._run_path(run_id, "/download"),
                              params={"path": path}) as response:
            if response.headers.get_content_type() != "application/zip":
                target = to / (PurePosixPath(path).name or run_id)
                with open(target, "wb") as out:
                    shutil.copyfileobj(response, out)
                return target
            with tempfile.TemporaryFile() as archive:
                shutil.copyfileobj(response, archive)
                archive.seek(0)
                with zipfile.ZipFile(archive) as zipped:
                    names = zipped.namelist()
                    zipped.extractall(to)  # extractall drops absolute and ../ parts
        top = PurePosixPath(names[0]).parts[0] if names else PurePosixPath(path).name
        return to / (top or run_id)

    def results(self, run_id: str, sort: str | None = None) -> dict[str, Any]:
        """GET runs/{id}/results (one MLflow search on the server)."""
        return self.server.json("GET", self._run_path(run_id, "/results"),
                                params={"sort": sort})

    def add_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        """POST schedules (its first run is submitted before the answer)."""
        return self.server.json("POST", f"{API}schedules", body=request,
                                timeout=SUBMIT_TIMEOUT)

    def schedules(self, deleted: bool = False) -> list[dict[str, Any]]:
        """GET schedules."""
        return self.server.json("GET", f"{API}schedules",
                                params={"deleted": "true" if deleted else None})["schedules"]
