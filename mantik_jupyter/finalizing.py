"""Finalizing: an ended run's results go home and to MLflow, once per run.

The executed notebook and the job log are fetched from the working directory, a site's
offline MLflow store is imported, and the MLflow run gets its final status. If the site or
tracking fails, the run says why and is retried after a growing wait (:mod:`.backoff`),
never on every sync; a file fetched by an earlier attempt is not fetched again.
"""

from __future__ import annotations

import logging

from . import data
from .backends import LOG_FILE
from .backoff import Backoff
from .context import EngineContext
from .errors import MantikError
from .executed import failure_reason
from .store import Run
from .tracking import OFFLINE_STORE

log = logging.getLogger(__name__)

#: a failed finalization is tried again after 15 s, 30 s, 1 min, ... at most hourly
RETRIES = Backoff(first=15.0, longest=3600.0)


class Finalizer:
    """Logs the results of ended runs to tracking."""

    def __init__(self, context: EngineContext, backoff: Backoff = RETRIES):
        self.context = context
        #: how long a run whose finalization failed waits before its next attempt
        self.backoff = backoff

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

    def finalize(self) -> None:
        """Finalize every ended run not yet finalized whose retry, if it failed, is due."""
        store = self.context.store
        for run in store.unfinalized(due=self.backoff.now()):
            if not store.claim_finalize(run.id):
                continue
            try:
                staged = data.staged_items(self._data_report(run))
                if staged:
                    store.update(run.id, data=staged)
                # a site that fails now is asked again later, not left out of the results
                fetched = (self.context.fetch_result(run, run.output_notebook, strict=True),
                           self.context.fetch_result(run, LOG_FILE, strict=True))
                if run.mlflow_run_id:
                    self._import_offline(run)
                    self.context.tracker.finish(run.mlflow_run_id, run.run_state,
                                                [p for p in fetched if p])
            except Exception as exc:  # noqa: BLE001 - a site or tracking down must not break a sync
                self._retry_later(run, exc)
            else:
                if run.finalizing:
                    store.update(run.id, finalizing=None)

    def _retry_later(self, run: Run, exc: Exception) -> None:
        """Record why finalizing failed and when it is tried again (growing waits)."""
        attempts = (run.finalizing or {}).get("attempts", 0) + 1
        cause = self.context.tracker.redact(exc.message if isinstance(exc, MantikError)
                                            else f"{type(exc).__name__}: {exc}")
        retry_at = self.backoff.retry_at(attempts)
        log.warning("could not finalize run %s (attempt %d, retried at %s): %s", run.id,
                    attempts, retry_at, cause)
        self.context.store.update(run.id, finalized=0, finalizing={
            "attempts": attempts, "error": cause, "retry_at": retry_at})

    def _import_offline(self, run: Run) -> None:
        """For a site whose compute nodes have no network: import the job's file store."""
        try:
            offline = self.context.catalog.get(run.site).settings.get("offline_tracking")
        except MantikError:  # the site's profile was removed since
            return
        store = self.context.fetch_result(run, OFFLINE_STORE) if offline else None
        if store is not None:
            self.context.tracker.import_offline(run.mlflow_run_id, store)
