"""Who may call the simulator: Basic demo login, and expiring OIDC client-credentials tokens."""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time


class Authenticator:
    """Checks ``Authorization`` headers; tokens live in memory only and are never logged."""

    def __init__(self, username: str, password: str, client_id: str, client_secret: str,
                 lifetime: int) -> None:
        self._basic = (username, password)
        self._client = (client_id, client_secret)
        self.lifetime = lifetime
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, client_secret: str) -> str | None:
        """A fresh bearer token for the demo client, or None for wrong credentials."""
        if not _same((client_id, client_secret), self._client):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.lifetime
        return token

    def expire_all(self) -> None:
        """Fault: every token issued so far stops working at once."""
        with self._lock:
            self._tokens.clear()

    def check(self, header: str | None, allow_basic: bool) -> bool:
        """True for a valid unexpired Bearer token, or (if allowed) the demo Basic login."""
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() == "bearer":
            with self._lock:
                expiry = self._tokens.get(value.strip())
            return expiry is not None and expiry > time.time()
        if scheme.lower() == "basic" and allow_basic:
            return _same(basic_credentials(value), self._basic)
        return False


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
