"""Signed access tokens: RS256 JWTs with a ``kid`` and ``preferred_username``, as CSCS's
Keycloak issues them, so that FirecREST's own server accepts the simulator's tokens through
the JWKS file written here (its ``publicCerts``)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

#: FirecREST refuses a token with less than this many seconds left (its ``min_token_ttl``).
MIN_TOKEN_TTL = 30


class TokenSigner:
    """An RSA key kept under ``folder`` (made once, owner-only) and its public JWKS beside it."""

    def __init__(self, folder: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_file = folder / "signing-key.pem"
        if not key_file.exists():  # one key for the root: a restarted simulator keeps it
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            partial = folder / f".signing-key.{os.getpid()}"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            partial.replace(key_file)
        self._key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        numbers = self._key.public_key().public_numbers()
        public = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
        # RFC 7638 thumbprint: the same key always has the same kid
        self.kid = _b64(hashlib.sha256(json.dumps(public, sort_keys=True,
                                                  separators=(",", ":")).encode()).digest())
        self.jwks_path = folder / "jwks.json"
        jwks = {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}
        partial = folder / f".jwks.{os.getpid()}"
        partial.write_text(json.dumps(jwks, indent=1))
        partial.replace(self.jwks_path)

    def sign(self, subject: str, username: str, lifetime: int) -> tuple[str, float]:
        """A token for ``username`` valid ``lifetime`` seconds from now: (token, expiry)."""
        import jwt

        now = time.time()
        expiry = now + lifetime
        claims = {"sub": subject, "preferred_username": username, "iat": int(now),
                  "exp": int(expiry), "jti": secrets.token_urlsafe(16), "typ": "Bearer"}
        return jwt.encode(claims, self._key, algorithm="RS256",
                          headers={"kid": self.kid}), float(int(expiry))


def _b64(value: int | bytes) -> str:
    """Unpadded base64url, of an integer's big-endian bytes or of bytes."""
    if isinstance(value, int):
        value = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()
