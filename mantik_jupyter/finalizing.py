"""Finalizing: an ended run's results go home and to MLflow, once per run.

The executed notebook and the job log are fetched from the working directory, a site's
offline MLflow store is imported, and the MLflow run gets its final status; if tracking
fails the run is retried on the next sync.
"""

from __future__ import annotations

import logging

from . import data
from .backends import LOG_FILE
from .context import EngineContext
from .errors import MantikError
from .executed import failure_reason
from .store import Run
from .tracking import OFFLINE_STORE

log = logging.getLogger(__name__)


class Finalizer:
    """Logs the results of ended runs to tracking."""

    def __init__(self, context: EngineContext):
        self.context = context

    def failure_reason(self, run: Run) -> str | None:
        """Why the run failed: its data staging (item and cause), else the executed
        notebook's failing cell, if there is either to read."""
        staging = self.staging_failure(run)
        if staging:
            return staging
        notebook = self.context.fetch_result(run, run.output_notebook)
        return failure_reason(notebook) if notebook else None

    def staging_failure(self, run: Run) -> str | None:
        """Why staging the run's ``Data`` failed (item and cause), if it did."""
        return data.failure(self._data_report(run))

    def _data_report(self, run: Run) -> dict | None:
        """The report of the run's data staging, fetched home (None without ``Data``)."""
        if not run.spec.get("Data"):
            return None
        return data.read_report(self.context.fetch_result(run, data.REPORT))

    def finalize(self, runs: list[Run] | None = None) -> None:
        """Finalize the given runs that ended, or every ended run not yet finalized."""
        store = self.context.store
        pending = store.unfinalized() if runs is None else [
            r for r in runs if r.run_state.terminal and not r.finalized
        ]
        for run in pending:
            if not store.claim_finalize(run.id):
                continue
            try:
                staged = data.staged_items(self._data_report(run))
                if staged:
                    store.update(run.id, data=staged)
                fetched = (self.context.fetch_result(run, run.output_notebook),
                           self.context.fetch_result(run, LOG_FILE))
                if run.mlflow_run_id:
                    self._import_offline(run)
                    self.context.tracker.finish(run.mlflow_run_id, run.run_state,
                                                [p for p in fetched if p])
            except Exception as exc:  # noqa: BLE001 - tracking down must not break a sync
                log.warning("could not log run %s to MLflow (will retry): %s", run.id,
                            self.context.tracker.redact(str(exc)))
                store.update(run.id, finalized=0)

    def _import_offline(self, run: Run) -> None:
        """For a site whose compute nodes have no network: import the job's file store."""
        try:
            offline = self.context.catalog.get(run.site).settings.get("offline_tracking")
        except MantikError:  # the site's profile was removed since
            return
        store = self.context.fetch_result(run, OFFLINE_STORE) if offline else None
        if store is not None:
            self.context.tracker.import_offline(run.mlflow_run_id, store)
