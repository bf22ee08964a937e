"""The OIDC token endpoint (Keycloak-like) for the ``client_credentials`` grant."""

from __future__ import annotations

from .auth import basic_credentials
from .server import SimHandler

TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a secret


class TokenHandler(SimHandler):
    """``POST /auth/token``: form ``grant_type=client_credentials`` with the client id and secret
    in the body (client_secret_post) or in a Basic header (client_secret_basic)."""

    public = True

    def error_body(self, status: int, message: str) -> dict:
        """Keycloak's OAuth error document."""
        return {"error": "invalid_request" if status == 400 else "server_error",
                "error_description": message}

    def post(self) -> None:
        """A bearer token valid for the configured lifetime."""
        grant = self.get_body_argument("grant_type", "")
        if grant != "client_credentials":
            self.send_json(400, {"error": "unsupported_grant_type",
                                 "error_description": f"Unsupported grant_type {grant!r}"})
            return
        scheme, _, value = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, secret = basic_credentials(value)
        else:
            client_id = self.get_body_argument("client_id", "")
            secret = self.get_body_argument("client_secret", "")
        token = self.site.auth.issue(client_id, secret)
        if token is None:
            self.send_json(401, {
                "error": "unauthorized_client",
                "error_description": "Invalid client or Invalid client credentials",
            })
            return
        self.set_header("Cache-Control", "no-store")
        self.send_json(200, {"access_token": token, "expires_in": self.site.auth.lifetime,
                             "refresh_expires_in": 0, "token_type": "Bearer",
                             "not-before-policy": 0, "scope": "profile email"})


def routes() -> list[tuple[str, type]]:
    """The token endpoint's URL pattern."""
    return [(TOKEN_PATH, TokenHandler)]
