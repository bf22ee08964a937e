"""Where a run's links point: its notebook in the contents root and its MLflow UI page.

One policy, given to the service when it is built, renders the links into every run's JSON
(as SQL, so a page of runs stays one query); the REST API and the in-process magics use it
alike and so return the same run JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .store import Member


@dataclass(frozen=True)
class LinkPolicy:
    """``contents_root``: the folder notebook paths are shown relative to (None: not shown);
    ``mlflow_ui_url``: base URL of the MLflow UI showing the tracking store ('' : no link)."""

    contents_root: Path | None = None
    mlflow_ui_url: str = ""

    @classmethod
    def of(cls, contents_root: Path | None, mlflow_ui_url: str, tracking_uri: str) -> LinkPolicy:
        """The policy of a deployment: an MLflow UI URL it configured, else the tracking
        server's own (an http(s) tracking URI serves the UI too)."""
        if not mlflow_ui_url and tracking_uri.startswith(("http://", "https://")):
            mlflow_ui_url = tracking_uri
        return cls(contents_root, mlflow_ui_url.rstrip("/"))

    def members(self) -> list[Member]:
        """The links as SQL members of the store's run JSON: ``notebook_path`` (stored
        notebooks are resolved absolute paths) and ``mlflow_url``."""
        if self.contents_root is None:
            notebook: Member = ("notebook_path", "NULL", ())
        else:
            prefix = str(self.contents_root).rstrip("/") + "/"
            notebook = ("notebook_path",
                        "CASE WHEN substr(notebook, 1, ?) = ? THEN substr(notebook, ?) END",
                        (len(prefix), prefix, len(prefix) + 1))
        ui = self.mlflow_ui_url
        return [notebook, ("mlflow_url", "CASE WHEN ? != '' AND mlflow_run_id IS NOT NULL "
                                         "THEN ? || '/#/experiments/' || mlflow_experiment_id "
                                         "|| '/runs/' || mlflow_run_id END", (ui, ui))]
