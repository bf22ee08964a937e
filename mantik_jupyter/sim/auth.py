"""Who may call the simulator: Basic demo login, and expiring OIDC client-credentials tokens
(signed JWTs that FirecREST's own server accepts too)."""

from __future__ import annotations

import base64
import hmac
import threading
import time

from .tokens import MIN_TOKEN_TTL, TokenSigner


class Authenticator:
    """Checks ``Authorization`` headers; tokens live in memory only and are never logged."""

    def __init__(self, username: str, password: str, client_id: str, client_secret: str,
                 lifetime: int, signer: TokenSigner, account: str) -> None:
        self._basic = (username, password)
        self._client = (client_id, client_secret)
        self.lifetime = lifetime
        self.signer = signer
        self.account = account  # the tokens' preferred_username: who jobs run as
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, client_secret: str) -> str | None:
        """A fresh bearer token for the demo client, or None for wrong credentials."""
        if not _same((client_id, client_secret), self._client):
            return None
        token, expiry = self.signer.sign(client_id, self.account, self.lifetime)
        with self._lock:
            now = time.time()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = expiry
        return token

    def expire_all(self) -> None:
        """Fault: every token issued so far stops working at once."""
        with self._lock:
            self._tokens.clear()

    def refusal(self, header: str | None, allow_basic: bool) -> str | None:
        """Why the credentials are refused, or None for a Bearer token this simulator issued
        with at least MIN_TOKEN_TTL seconds left (FirecREST's ``min_token_ttl``), or (if
        allowed) the demo Basic login."""
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() == "bearer":
            with self._lock:
                expiry = self._tokens.get(value.strip())
            if expiry is None or expiry <= time.time():
                return "Access token expired or unknown"
            if expiry - time.time() < MIN_TOKEN_TTL:
                return (f"Access token expires too soon (less than {MIN_TOKEN_TTL}s "
                        "remaining).")
            return None
        if scheme.lower() == "basic" and allow_basic and _same(basic_credentials(value),
                                                               self._basic):
            return None
        return "Not authenticated: missing, wrong or expired credentials"


def basic_credentials(value: str) -> tuple[str, str]:
    """(user, password) from the base64 part of a Basic header; empty strings if malformed."""
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    return user, password


def _same(given: tuple[str, str], expected: tuple[str, str]) -> bool:
    pairs = zip(given, expected, strict=True)
    return all(hmac.compare_digest(a.encode(), b.encode()) for a, b in pairs)
