"""What the parts of the run service share: home, store, sites, tracking and backends."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath

from .backends import backend_class
from .downloads import Budget
from .errors import MantikError, NotFoundError
from .gateways import GatewayPool, GuardedBackend
from .hashcache import HashCache
from .locks import RunLock
from .sites import Site, SiteCatalog
from .store import Run, RunStore
from .tracking import Tracker


class EngineContext:
    """The engine's state for one home folder; the submitting, reconciling and finalizing
    parts each hold it."""

    def __init__(self, home: Path, store: RunStore, catalog: SiteCatalog, tracker: Tracker,
                 contents_root: Path | None = None, gateways: GatewayPool | None = None):
        self.home = home
        self.store = store
        self.catalog = catalog
        self.tracker = tracker
        #: The server's contents root: notebooks and ProjectRoot must stay inside it.
        self.contents_root = contents_root
        #: File hashes keyed by stat, so an unchanged project is not read again.
        self.hashes = HashCache(home / "file-hashes.db")
        #: Every gateway call goes through this pool, with a deadline.
        self.gateways = gateways or GatewayPool()
        self._backends: dict[str, GuardedBackend] = {}

    def backend(self, site: Site | str) -> GuardedBackend:
        """The backend instance serving a site: kept while the site's profile stays as it
        is, made anew when it was edited (a new URL, TLS setting or kind must take effect at
        once, or a newly set secret would go to the old endpoint). Its gateway calls go
        through the pool, with deadlines."""
        site = self.catalog.get(site) if isinstance(site, str) else site
        kept = self._backends.get(site.name)
        if kept is None or kept.site != site:
            kept = self._backends[site.name] = GuardedBackend(
                backend_class(site.kind)(site, self.home), self.gateways)
        return kept

    def submit_lock(self, run_id: str) -> RunLock:
        """The lock a live process holds while it submits the run (or recovers it)."""
        return RunLock(self.home / "staging" / f"{run_id}.lock")

    def cancel_request(self, run_id: str) -> Path:
        """A file that asks whichever process submits the run to stop (a cancel from
        another process: the CLI's while the server uploads, or the other way round)."""
        return self.home / "staging" / f"{run_id}.cancel"

    def staging(self, run_id: str) -> Path:
        """Where a run's bundle is staged while it is submitted."""
        return self.home / "staging" / run_id

    def results(self, run_id: str) -> Path:
        """Where files fetched from a run's working directory are kept."""
        return self.home / "results" / run_id

    def fetch_result(self, run: Run, relative: str | None, *, strict: bool = False
                     ) -> Path | None:
        """Copy one file of the run's working directory home, if it is there. An ended
        run's file fetched before is not fetched again (it no longer changes). A site that
        fails gives None, or with ``strict`` raises (a file the site lacks is None)."""
        if not (run.work_dir and relative):  # no job ever reached the site
            return None
        folder = self.results(run.id)
        kept = folder / PurePosixPath(relative).name
        if run.run_state.terminal and kept.is_file():
            return kept
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # fetched aside, then moved in: a fetch cut short never leaves a part to be kept
        partial = Path(tempfile.mkdtemp(prefix=".fetching-", dir=folder))
        try:
            fetched = self.backend(run.site).download(run, relative, partial,
                                                      Budget(run, relative))
            target = folder / fetched.name
            if target.is_dir():  # a folder is fetched whole each time
                shutil.rmtree(target)
            return fetched.replace(target)
        except NotFoundError:
            return None
        except MantikError:
            if strict:
                raise
            return None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
