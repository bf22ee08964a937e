"""The simulator's one tornado application: the routes of both gateways, the object store,
the token endpoint and the fault controls, on one site."""

from __future__ import annotations

import tornado.web

from . import admin, firecrest, oidc, s3, unicore
from .server import SimHandler
from .site import Site


class NotFound(SimHandler):
    """Unknown paths: 404 without asking for credentials."""

    public = True

    def prepare(self) -> None:
        """Every method answers 404."""
        self.fail(404, f"No such resource: {self.request.path}")


def make_app(site: Site) -> tornado.web.Application:
    """All routes of both gateways, the object store, the token endpoint, the fault controls."""
    routes = [*unicore.routes(site.config.site), *firecrest.routes(), *s3.routes(),
              *oidc.routes(), *admin.routes()]
    return tornado.web.Application(
        [(pattern, handler, {"site": site}) for pattern, handler in routes],
        default_handler_class=NotFound,
        default_handler_args={"site": site},
        app_version=site.config.app_version,
    )
