"""The jupyter_server extension: configuration, the engine, the poller and the routes.

Everything configurable is a trait of ``MantikJupyter`` (``c.MantikJupyter.default_site =
...`` in ``jupyter_server_config.py``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from jupyter_server.extension.application import ExtensionApp
from traitlets import Dict, Float, Int, List, Unicode, default

from .. import paths
from ..errors import MantikError
from ..gateways import DEADLINE, PER_SITE, WORKERS, GatewayPool
from ..links import LinkPolicy
from ..progress import Listener, Snapshot
from ..reconciling import SUBMIT_GRACE
from ..request import SubmitRequest
from ..service import RunService
from ..sites import SiteCatalog
from ..store import Run, now
from ..sweeps import SweepRequest
from ..tracking import Tracker
from .handlers import ROUTES
from .poller import RunPoller

EVENT_SCHEMA = Path(__file__).parent / "events" / "run-state-v1.yaml"
EVENT_SCHEMA_ID = "https://events.mantik-jupyter.org/run-state/v1"
PROGRESS_SCHEMA = Path(__file__).parent / "events" / "run-progress-v1.yaml"
PROGRESS_SCHEMA_ID = "https://events.mantik-jupyter.org/run-progress/v1"
SCHEDULE_SCHEMA = Path(__file__).parent / "events" / "schedule-v1.yaml"
SCHEDULE_SCHEMA_ID = "https://events.mantik-jupyter.org/schedule/v1"
API_PREFIX = "mantik/api"


class MantikJupyter(ExtensionApp):
    """Sites, runs and live logs of mantik-jupyter as an authenticated REST API."""

    name = "mantik_jupyter"
    load_other_extensions = True

    home = Unicode(help="Folder of the run store, local runs and the embedded MLflow store "
                        "(default: $MANTIK_JUPYTER_HOME or Jupyter's data dir/mantik).").tag(
        config=True)
    default_site = Unicode("local", help="Site preselected for new runs.").tag(config=True)
    mlflow_ui_url = Unicode("", help="Base URL of an MLflow UI showing this server's tracking "
                                     "store, used for run links (default: the tracking URI "
                                     "when it is an http(s) MLflow server); a relative one "
                                     "(mlflow/ behind jupyter-server-proxy) is relative to the "
                                     "server's base URL.").tag(config=True)
    poll_min_interval = Float(1.0, help="Seconds between polls after a change.").tag(config=True)
    poll_max_interval = Float(10.0, help="Longest wait between polls while runs are active and "
                                         "nothing changes.").tag(config=True)
    submit_grace = Float(SUBMIT_GRACE, help="Seconds a run may stay SUBMITTING after its last "
                                            "change before, if no live process is submitting "
                                            "it, it is reconciled with its site (its job "
                                            "adopted, or the run failed).").tag(config=True)
    workers = Int(4, help="Threads that run engine calls off the event loop.").tag(config=True)
    read_workers = Int(2, help="Threads that serve GET runs and GET runs/{id}: they only read "
                               "the store, so no site can keep them waiting.").tag(config=True)
    gateway_workers = Int(WORKERS, help="Most gateway calls in flight at once (each site at "
                                        f"most {PER_SITE}).").tag(config=True)
    gateway_deadline = Float(DEADLINE, help="Seconds a request or the poller waits for a site "
                                            "to answer before a 503 naming the site; a site "
                                            "that did not is refused until its call ends."
                             ).tag(config=True)
    submit_workers = Int(4, help="Submissions bundled and uploaded at the same time (more "
                                 "wait, SUBMITTING, their turn).").tag(config=True)
    sites = List(Dict(), help="Site profiles a deployment adds (JupyterHub at an HPC centre): "
                              "the fields of a user profile (name, kind, url, ...); they may "
                              "replace a preset of the same name and are read-only for users."
                 ).tag(config=True)

    event_schema_id = EVENT_SCHEMA_ID

    @default("home")
    def _default_home(self) -> str:
        return str(paths.home())

    def link_policy(self, tracker: Tracker) -> LinkPolicy:
        """Links in this server's run JSON; a relative MLflow UI URL (``mlflow/`` behind
        jupyter-server-proxy, as on binder) is resolved against the server's base URL."""
        ui = self.mlflow_ui_url
        if ui:
            ui = urljoin(self.serverapp.base_url, ui)
        return LinkPolicy.of(self.contents_root, ui, tracker.uri_for_humans)

    def initialize_settings(self) -> None:
        home = Path(self.home)
        # fixed for the server's life; resolved once, not on every path check
        self.contents_root = Path(self.serverapp.root_dir).resolve()
        tracker = Tracker(home)
        #: why the engine could not start (a damaged or newer run store): every route
        #: answers with it, instead of the extension vanishing from the server
        self.unavailable: MantikError | None = None
        self.service: RunService | None = None
        try:
            self.service = RunService(
                home=home, catalog=SiteCatalog(home, admin_sites=self.sites), tracker=tracker,
                submit_grace=self.submit_grace, contents_root=self.contents_root,
                links=self.link_policy(tracker),
                gateways=GatewayPool(self.gateway_workers, deadline=self.gateway_deadline))
        except MantikError as exc:
            self.log.error("mantik-jupyter cannot start its engine: %s", exc.message)
            self.unavailable = exc
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="mantik")
        # reads of the store never queue behind calls that wait on a site
        self.reads = ThreadPoolExecutor(self.read_workers, thread_name_prefix="mantik-read")
        # the poller's sync has a thread of its own: requests never wait for it, nor it for them
        self.poll_thread = ThreadPoolExecutor(1, thread_name_prefix="mantik-poller")
        self.site_health: dict[str, dict[str, Any]] = {}
        self.submit_executor = ThreadPoolExecutor(self.submit_workers,
                                                  thread_name_prefix="mantik-submit")
        self.serverapp.event_logger.register_event_schema(EVENT_SCHEMA)
        self.serverapp.event_logger.register_event_schema(PROGRESS_SCHEMA)
        self.serverapp.event_logger.register_event_schema(SCHEDULE_SCHEMA)
        self.poller = RunPoller(self.service, self.poll_thread, self.emit_state_change,
                                self.poll_min_interval, self.poll_max_interval,
                                on_schedules=self.emit_ticked) if self.service else None

    def initialize_handlers(self) -> None:
        self.handlers.extend((rf"/{API_PREFIX}/{pattern}", handler) for pattern, handler in ROUTES)

    async def start_submit(self, request: SubmitRequest | SweepRequest) -> Run:
        """Record the run SUBMITTING (validation errors raise here) and return it; its
        bundling, upload and submit go on in the background, reporting progress events.
        A server stopped meanwhile leaves a SUBMITTING run that the reconciler adopts. A
        sweep goes the same way: its points and arrays follow in the background."""
        loop = asyncio.get_running_loop()
        pending = await loop.run_in_executor(self.executor, self.service.begin_submit,
                                             request, self.progress_events())
        done = loop.run_in_executor(self.submit_executor, self.service.complete_submit,
                                    pending)
        done.add_done_callback(lambda _: self.poller.wake())
        self.poller.wake()
        return pending.run

    def progress_events(self) -> Listener:
        """A submission's progress listener (called in its thread) that emits each snapshot
        as a progress event on the server's event bus (on the event loop)."""
        loop = asyncio.get_running_loop()

        def emit(run_id: str, snapshot: Snapshot) -> None:
            data = {"run_id": run_id, **snapshot.to_dict()}
            loop.call_soon_threadsafe(functools.partial(
                self.serverapp.event_logger.emit, schema_id=PROGRESS_SCHEMA_ID, data=data))
        return emit

    def emit_state_change(self, data: dict[str, Any]) -> None:
        """Announce a run's state change on the server's event bus (event loop thread)."""
        self.serverapp.event_logger.emit(schema_id=EVENT_SCHEMA_ID, data=data)

    def emit_schedule_change(self, schedule: dict[str, Any], change: str) -> None:
        """Announce a schedule's change on the server's event bus (event loop thread)."""
        self.serverapp.event_logger.emit(schema_id=SCHEDULE_SCHEMA_ID, data={
            "schedule_id": schedule["id"], "name": schedule["name"], "change": change,
            "next_time": schedule["next_time"], "time": now()})

    def emit_ticked(self, schedules: list[dict[str, Any]]) -> None:
        """Announce the schedules a poll's tick changed (it queued their next runs)."""
        for schedule in schedules:
            self.emit_schedule_change(schedule, "ticked")

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Once the loop runs: tell kernels where the API is, start the poller."""
        os.environ["MANTIK_JUPYTER_URL"] = serverapp.connection_url.rstrip("/") + "/"
        token = serverapp.identity_provider.token
        if token:
            os.environ["MANTIK_JUPYTER_TOKEN"] = token
        if self.poller:
            self.poller.start()

    async def stop_extension(self) -> None:
        if self.poller:
            await self.poller.stop()
        for pool in (self.executor, self.reads, self.poll_thread, self.submit_executor):
            pool.shutdown(wait=False, cancel_futures=True)
        if self.service:
            self.service.close()
