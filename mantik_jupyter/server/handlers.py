"""REST handlers under ``{base_url}mantik/api/``: a thin projection of RunService.

Every route requires Jupyter authentication and authorization on the ``mantik``
resource: ``read`` for GET, ``write`` for other methods, and ``execute`` for the routes that
run code or change what runs (submit, re-run, adding, editing and testing a site: a token
command runs, a new URL receives secrets). Engine calls run in a worker pool so the
server's event loop never waits on the database or a gateway. Errors are JSON
``{reason, message, details}`` with the accurate 4xx status; nothing the user sent can
produce a traceback in a response.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.ioloop import IOLoop

from .. import __version__, credentials
from ..errors import ForbiddenError, MantikError, NotFoundError
from ..request import BadRequest, RerunChanges, SubmitRequest, text_field
from ..runfilter import RunFilter
from ..service import RunService
from ..store import Run
from ..sweeps import SweepRequest, submission

T = TypeVar("T")
MAX_PAGE = 500
DEFAULT_LOG_LIMIT = 1 << 20
MAX_LOG_LIMIT = 8 << 20
_CHUNK = 1 << 16


class MantikHandler(ExtensionHandlerMixin, APIHandler):
    """Base: engine access, JSON bodies, error bodies, contents-root confinement."""

    auth_resource = "mantik"

    def prepare(self) -> Any:
        # The server starts the poller once its loop runs; test harnesses that never call
        # the start hook get it with the first request.
        if self.extensionapp.poller:
            self.extensionapp.poller.start()
        return super().prepare()

    @property
    def service(self) -> RunService:
        """The engine (a 503 saying why, when it could not start: e.g. a damaged store)."""
        if self.extensionapp.service is None:
            raise self.extensionapp.unavailable
        return self.extensionapp.service

    @property
    def root(self) -> Path:
        return self.extensionapp.contents_root

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an engine call in the worker pool."""
        return await IOLoop.current().run_in_executor(
            self.extensionapp.executor, functools.partial(fn, *args, **kwargs)
        )

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a pure store read in the read pool, which no gateway call ever occupies."""
        return await IOLoop.current().run_in_executor(
            self.extensionapp.reads, functools.partial(fn, *args))

    def body(self) -> dict[str, Any]:
        """The JSON object sent with the request ({} when empty)."""
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("the request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data

    def int_arg(self, name: str, default: int, low: int, high: int | None = None) -> int:
        """An integer query argument within bounds, or a 400 that says the bounds."""
        text = self.get_query_argument(name, None)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, got {text!r}", key=name) from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise BadRequest(f"{name} must be {bounds}, got {value}", key=name)
        return value

    def contents_path(self, path: str | None, key: str = "path") -> Path:
        """A user-given path resolved inside the contents root; refused if it leaves it."""
        if not path:
            raise BadRequest(f"{key} is required", key=key)
        if "\0" in path:  # no file system takes it (resolving it raises)
            raise BadRequest(f"{key} must not contain a NUL character", key=key)
        target = Path(path)
        target = (target if target.is_absolute() else self.root / path.lstrip("/")).resolve()
        if target != self.root and self.root not in target.parents:
            raise ForbiddenError(f"{key} {path!r} is outside the Jupyter contents root",
                                 key=key)
        return target

    async def reply_run(self, run: Run, status: int = 200) -> None:
        """Reply with a run as the API shows it: the engine's fields plus its links."""
        self.reply_json(await self.call(self.service.run_json, run.id), status)

    def refuse_local_sources(self, profile: dict[str, Any], current: Any = None) -> None:
        """403 for a credential source that runs a command or reads a server file (unless
        unchanged): those come from the CLI or the admin config, never over REST."""
        given = profile.get("credentials")
        if not isinstance(given, dict) or given == current:
            return
        source = credentials.reference(given)
        if not source.over_rest:
            raise ForbiddenError(
                f"credential source {source.name!r} runs a command or reads a file on the "
                "server, so it is set only with the CLI (mantik-jupyter sites add) or the "
                "admin config (c.MantikJupyter.sites), not through the API",
                key="credentials.source")

    def site_json(self, site: Any) -> dict[str, Any]:
        """A site as the API returns it: profile, last health, whether a secret is set."""
        return {**site.to_dict(), "health": self.extensionapp.site_health.get(site.name),
                "credentials_set": self.service.catalog.has_credentials(site.name)}

    def compute_etag(self) -> None:
        """No ETag: API replies change with every poll; hashing each body is wasted work."""
        return None

    def reply(self, data: Any, status: int = 200) -> None:
        self.reply_json(json.dumps(data, default=str), status)

    def reply_json(self, text: str, status: int = 200) -> None:
        """Send a body that is already JSON text."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON error bodies; a MantikError sets its own status; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MantikError):
            self.set_status(exc.status)
            body = exc.to_dict()
        elif isinstance(exc, web.HTTPError):
            message = exc.log_message % exc.args if exc.log_message else self._reason
            body = {"reason": (exc.reason or self._reason).lower().replace(" ", "_"),
                    "message": message, "details": {}}
        else:
            body = {"reason": "internal_error",
                    "message": "internal error in mantik-jupyter; the server log has details",
                    "details": {}}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MantikError):
            self.log.info("mantik: %s %s -> %s %s", self.request.method, self.request.path,
                          value.status, value.message)
            return
        super().log_exception(typ, value, tb)


class ConfigHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        app = self.extensionapp
        self.reply({
            "version": __version__,
            "features": ["runs", "logs", "files", "events", "sites"],
            "defaults": {"site": app.default_site},
            "tracking_uri": self.service.tracker.uri_for_humans,
            # the UI's root page, the base of every run link
            "mlflow_ui_url": (self.service.links.mlflow_ui_url + "/"
                              if self.service.links.mlflow_ui_url else None),
            "event_schema": app.event_schema_id,
        })


class SitesHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        catalog = self.service.catalog

        def describe() -> list[dict[str, Any]]:
            return [self.site_json(s) for s in catalog.all()]

        self.reply({"sites": await self.call(describe), "schema": catalog.schema(),
                    "kinds": catalog.kinds()})

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        body = self.body()
        base = text_field(body, "base")
        profile = {k: v for k, v in body.items() if k != "base"}
        self.refuse_local_sources(profile)
        catalog = self.service.catalog
        # site_json looks for the secret (a keyring or a command may answer): in the worker
        self.reply(await self.call(lambda: self.site_json(catalog.add(profile, base=base))),
                   status=201)


class SiteHandler(MantikHandler):
    @web.authenticated
    @authorized("execute")
    async def put(self, name: str) -> None:
        body, catalog = self.body(), self.service.catalog
        current = await self.call(catalog.get, name)
        self.refuse_local_sources(body, current.settings.get("credentials"))
        site = await self.call(catalog.update, name, body)
        self.extensionapp.site_health.pop(name, None)
        self.reply(await self.call(self.site_json, site))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.service.catalog.remove, name)
        self.extensionapp.site_health.pop(name, None)
        self.set_status(204)
        self.finish()


class SiteTestHandler(MantikHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self, name: str) -> None:
        result = await self.call(self.service.check_site, name)
        self.extensionapp.site_health[name] = result
        self.reply(result)


class CredentialsHandler(MantikHandler):
    """Write-only: a secret goes in, and no route ever gives it back."""

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        secret = text_field(self.body(), "secret")
        if not secret:
            raise BadRequest("send {\"secret\": \"...\"} with the password, token or client "
                             "secret", key="secret")
        await self.call(self.service.catalog.set_credentials, name, secret)
        self.extensionapp.site_health.pop(name, None)
        self.set_status(204)
        self.finish()


class RunsHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        notebook = self.get_query_argument("notebook", None)
        run_filter = RunFilter.of(
            states=self.get_query_arguments("state"),
            site=self.get_query_argument("site", None),
            notebook=str(self.contents_path(notebook, "notebook")) if notebook else None,
            text=self.get_query_argument("text", None),
            limit=self.int_arg("limit", 50, 1, MAX_PAGE),
            cursor=self.get_query_argument("cursor", None),
            sort=self.get_query_argument("sort", "-created_at"),
            points=self.get_query_argument("points", "true").lower() not in ("false", "0", "no"),
            sweep=self.get_query_argument("sweep", None),
        )
        # the whole page as JSON, built in a read worker: the event loop only sends it
        self.reply_json(await self.read(self.service.page_json, run_filter))

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        request = submission(self.body(), self.contents_path)
        await self.reply_run(await self.extensionapp.start_submit(request), status=201)


class SweepPlanHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """The points and arrays a ``POST runs`` body would submit, each point checked;
        nothing is sent (the CLI's ``submit --dry-run``, for the lab's submit dialog)."""
        sweep = submission(self.body(), self.contents_path)
        if not isinstance(sweep, SweepRequest):
            raise BadRequest("a sweep preview needs a sweep: sweep, sweep_texts, repeat, "
                             "max_concurrent or a config with a Sweep key", key="sweep")
        self.reply((await self.call(self.service.plan_sweep, sweep)).to_dict())


class RunHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply_json(await self.read(self.service.run_json, run_id))

    @web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        body = self.body()
        unknown = set(body) - {"name", "action"}
        if unknown or not body:
            raise BadRequest("PATCH takes {\"name\": ...} and/or {\"action\": \"cancel\"}",
                             key=", ".join(sorted(unknown)) or None)
        run = await self.call(self.service.get, run_id)
        if "name" in body:
            run = await self.call(self.service.rename, run.id, text_field(body, "name") or "")
        if "action" in body:
            if body["action"] != "cancel":
                raise BadRequest(f"unknown action {body['action']!r}; allowed: cancel",
                                 key="action")
            run = await self.call(self.service.cancel, run.id)
            self.extensionapp.poller.wake()
        await self.reply_run(run)

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        remote = self.get_query_argument("remote", "false").lower() in ("true", "1", "yes")
        run = await self.call(self.service.get, run_id)
        if run.id != run_id:  # a prefix is enough to look, not to destroy
            raise BadRequest(f"deleting a run takes its full id, not the prefix {run_id!r}",
                             key="run_id")
        await self.call(self.service.delete, run_id, remote=remote)
        self.set_status(204)
        self.finish()


class RerunHandler(MantikHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self, run_id: str) -> None:
        changes = RerunChanges.from_json(self.body(), self.contents_path)
        request = await self.call(self.service.rerun_request, run_id, changes)
        await self.reply_run(await self.extensionapp.start_submit(request), status=201)


class ResultsHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """A sweep's points side by side, ranked by its objective (or ``sort``)."""
        sort = self.get_query_argument("sort", None)
        self.reply(await self.call(self.service.results, run_id, sort))


class LogsHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        offset = self.int_arg("offset", 0, 0)
        limit = self.int_arg("limit", DEFAULT_LOG_LIMIT, 1, MAX_LOG_LIMIT)
        # the poller keeps the state current: a log poll costs the site one log read only
        chunk = await self.call(self.service.logs, run_id, offset, limit)
        self.reply(chunk.to_dict())


class FilesHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        entries = await self.call(self.service.files, run_id, self.get_query_argument("path", ""))
        self.reply({"files": [e.to_dict() for e in entries]})


class DownloadHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        path = self.get_query_argument("path", "")
        with tempfile.TemporaryDirectory(prefix="mantik-download-") as tmp:
            copy = await self.call(self.service.download, run_id, path, Path(tmp) / "files")
            if copy.is_dir():
                copy = await self.call(_zip_folder, copy, Path(tmp) / f"{copy.name}.zip")
                self.set_header("Content-Type", "application/zip")
            else:
                self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Disposition", f'attachment; filename="{_safe(copy.name)}"')
            self.set_header("Content-Length", str(copy.stat().st_size))
            with open(copy, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    self.write(chunk)
                    await self.flush()
        self.finish()


class NotebookHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        run = await self.call(self.service.get, run_id)
        folder = self.root / "mantik-runs" / _safe(run.name)
        copy = await self.call(self.service.download_notebook, run.id, folder)
        self.reply({"path": copy.relative_to(self.root).as_posix()}, status=201)


class ParametersHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.contents_path(self.get_query_argument("path", None))
        params = await self.call(self.service.parameters, path)
        self.reply({"parameters": [p.to_dict() for p in params.values()]})


class SaveFrontendHandler(MantikHandler):
    """Which kernels a frontend answering the magics' ``mantik:save`` comm has open: the
    magics open that comm only there (elsewhere the browser logs an unknown comm target)."""

    def _kernel(self, kernel_id: str) -> set[str]:
        if kernel_id not in self.settings["kernel_manager"]:
            raise NotFoundError(f"no kernel with id {kernel_id!r}", key="kernel_id")
        return self.settings.setdefault("mantik_save_frontends", set())

    @web.authenticated
    @authorized
    async def get(self, kernel_id: str) -> None:
        self.reply({"saves": kernel_id in self._kernel(kernel_id)})

    @web.authenticated
    @authorized
    async def put(self, kernel_id: str) -> None:
        self._kernel(kernel_id).add(kernel_id)
        self.reply({"saves": True})


class ScheduleChanges(MantikHandler):
    """Base of the schedule routes that change one: the change goes on the event bus."""

    def schedule_changed(self, schedule: dict[str, Any], change: str) -> None:
        """Announce a schedule change; the runs it queued come by the poller."""
        self.extensionapp.emit_schedule_change(schedule, change)
        self.extensionapp.poller.wake()


class SchedulesHandler(ScheduleChanges):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        deleted = self.get_query_argument("deleted", "false").lower() in ("true", "1", "yes")
        self.reply({"schedules": await self.call(self.service.schedules, deleted)})

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        request = SubmitRequest.from_json(self.body(), self.contents_path)
        schedule = await self.call(self.service.add_schedule, request)
        self.schedule_changed(schedule, "added")
        self.reply(schedule, status=201)


class ScheduleHandler(ScheduleChanges):
    @web.authenticated
    @authorized
    async def get(self, schedule_id: str) -> None:
        self.reply(await self.call(self.service.schedule, schedule_id))

    @web.authenticated
    @authorized("execute")
    async def patch(self, schedule_id: str) -> None:
        body = self.body()
        if set(body) != {"action"} or body["action"] not in ("pause", "resume"):
            raise BadRequest("PATCH takes {\"action\": \"pause\"} or {\"action\": "
                             "\"resume\"}", key="action")
        action = body["action"]
        schedule = await self.call(getattr(self.service, f"{action}_schedule"), schedule_id)
        self.schedule_changed(schedule, f"{action}d")
        self.reply(schedule)

    @web.authenticated
    @authorized
    async def delete(self, schedule_id: str) -> None:
        schedule = await self.call(self.service.schedule, schedule_id)
        if schedule["id"] != schedule_id:  # a prefix is enough to look, not to destroy
            raise BadRequest(f"deleting a schedule takes its full id, not the prefix "
                             f"{schedule_id!r}", key="schedule_id")
        schedule = await self.call(self.service.remove_schedule, schedule_id)
        self.schedule_changed(schedule, "deleted")
        self.set_status(204)
        self.finish()


class ScheduleRunsHandler(MantikHandler):
    @web.authenticated
    @authorized
    async def get(self, schedule_id: str) -> None:
        self.reply_json(await self.call(self.service.schedule_runs_json, schedule_id))


def _zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for dirpath, _, filenames in os.walk(folder):
            for name in filenames:
                path = Path(dirpath) / name
                archive.write(path, path.relative_to(folder.parent).as_posix())
    shutil.rmtree(folder)
    return target


def _safe(name: str) -> str:
    """A file-name-safe form of a run name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"


RUN = r"(?P<run_id>[^/]+)"  # any segment: an unknown id gets a JSON 404 from the store
ROUTES: list[tuple[str, type[MantikHandler]]] = [
    (r"config", ConfigHandler),
    (r"sites", SitesHandler),
    (r"sites/(?P<name>[^/]+)", SiteHandler),
    (r"sites/(?P<name>[^/]+)/test", SiteTestHandler),
    (r"sites/(?P<name>[^/]+)/credentials", CredentialsHandler),
    (r"runs", RunsHandler),
    (r"sweeps/plan", SweepPlanHandler),
    (rf"runs/{RUN}", RunHandler),
    (rf"runs/{RUN}/rerun", RerunHandler),
    (rf"runs/{RUN}/results", ResultsHandler),
    (rf"runs/{RUN}/logs", LogsHandler),
    (rf"runs/{RUN}/files", FilesHandler),
    (rf"runs/{RUN}/download", DownloadHandler),
    (rf"runs/{RUN}/notebook", NotebookHandler),
    (r"notebooks/parameters", ParametersHandler),
    (r"kernels/(?P<kernel_id>[^/]+)/save-frontend", SaveFrontendHandler),
    (r"schedules", SchedulesHandler),
    (r"schedules/(?P<schedule_id>[^/]+)", ScheduleHandler),
    (r"schedules/(?P<schedule_id>[^/]+)/runs", ScheduleRunsHandler),
]
