"""Secrets of sites, kept apart from the profiles that name them.

A site profile holds only a *reference* to its secret (a password, a client secret or an
access token): where to find it, never the value. The sources are an owner-only secrets
file in the mantik home, an environment variable, an owner-only token file, a token command
(e.g. ``oidc-token``), a token the JupyterHub deployment puts into the environment, the OS
keyring when a real keyring backend is installed, and the simulator's published demo
credentials. Every error names the site and the source, never the secret.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, CredentialsError
from .paths import write_atomic

SECRETS_FILE = "secrets.json"
KEYRING_SERVICE = "mantik-jupyter"
HUB_TOKEN_VARIABLE = "MANTIK_HUB_ACCESS_TOKEN"  # noqa: S105 - a variable name
SOURCES = ("secrets-file", "env", "token-file", "token-command", "jupyterhub", "keyring",
           "simulator")
#: Where each source keeps its one setting (besides ``source``).
SOURCE_FIELD = {"env": "variable", "token-file": "path", "token-command": "command",
                "jupyterhub": "variable"}
#: Which secret an ``auth`` method needs, in words for messages.
SECRET_NAMES = {"password": "password", "client-credentials": "client secret",
                "token": "access token"}


@dataclass(frozen=True)
class CredentialRef:
    """Where a site's secret is found (``source`` plus that source's one setting)."""

    source: str
    variable: str | None = None
    path: str | None = None
    command: str | None = None

    @classmethod
    def from_settings(cls, data: Mapping[str, Any] | None) -> CredentialRef:
        """From a profile's ``credentials`` mapping (default: the secrets file)."""
        data = dict(data or {"source": "secrets-file"})
        return cls(data.get("source", "secrets-file"), data.get("variable"), data.get("path"),
                   data.get("command"))

    def describe(self) -> str:
        """The source in words for messages (no secret in it)."""
        return {
            "secrets-file": "the mantik secrets file",
            "env": f"environment variable {self.variable}",
            "token-file": f"token file {self.path}",
            "token-command": f"token command {self.command!r}",
            "jupyterhub": f"the JupyterHub-provided token ({self.variable or HUB_TOKEN_VARIABLE})",
            "keyring": "the OS keyring",
            "simulator": "the simulator's demo credentials",
        }.get(self.source, self.source)


def secrets_path(home: Path) -> Path:
    """The owner-only secrets file of a mantik home."""
    return home / SECRETS_FILE


def _read_secrets(home: Path) -> dict[str, str]:
    path = secrets_path(home)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"the secrets file {path} is readable by others; run: chmod 600 {path}",
            key="credentials",
        )
    return json.loads(path.read_text(encoding="utf-8"))


def resolve(site: str, auth: str, ref: CredentialRef, home: Path) -> str:
    """The secret of ``site`` from its source; CredentialsError says what is missing."""
    what = SECRET_NAMES.get(auth, "secret")
    where = ref.describe()

    def missing(detail: str) -> CredentialsError:
        return CredentialsError(f"site {site!r}: no {what} in {where}: {detail}",
                                key="credentials")

    if ref.source == "secrets-file":
        value = _read_secrets(home).get(site)
        if not value:
            raise missing(f"set it with: mantik-jupyter sites credentials {site}")
        return value
    if ref.source in ("env", "jupyterhub"):
        variable = ref.variable or HUB_TOKEN_VARIABLE
        value = os.environ.get(variable, "").strip()
        if not value:
            raise missing(f"{variable} is not set")
        return value
    if ref.source == "token-file":
        return _token_file(Path(ref.path or "").expanduser(), missing)
    if ref.source == "token-command":
        return _token_command(ref.command or "", missing)
    if ref.source == "keyring":
        value = _keyring(missing).get_password(KEYRING_SERVICE, site)
        if not value:
            raise missing(f"no entry {KEYRING_SERVICE}/{site}")
        return value
    if ref.source == "simulator":
        from .sim.config import SimConfig

        demo = {"password": SimConfig.password, "client-credentials": SimConfig.client_secret}
        if auth not in demo:
            raise missing(f"the simulator has no demo {what}")
        return demo[auth]
    raise ConfigError(f"site {site!r}: unknown credential source {ref.source!r}; "
                      f"use one of {', '.join(SOURCES)}", key="credentials.source")


def _token_file(path: Path, missing: Any) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise missing(exc.strerror or "cannot be read") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise missing(f"the file is readable by others; run: chmod 600 {path}")
    if not text:
        raise missing("the file is empty")
    return text


def _token_command(command: str, missing: Any) -> str:
    try:
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise missing(f"the command did not run ({type(exc).__name__})") from None
    if proc.returncode != 0:
        raise missing(f"the command exited with code {proc.returncode}")
    token = proc.stdout.strip()
    if not token:
        raise missing("the command printed nothing")
    return token


def keyring_available() -> bool:
    """True when the ``keyring`` package is installed with a real (not fail/null) backend."""
    try:
        import keyring
    except ImportError:
        return False
    backend = keyring.get_keyring()
    return getattr(backend, "priority", 0) > 0 and "fail" not in type(backend).__module__


def _keyring(missing: Any) -> Any:
    if not keyring_available():
        raise missing("no OS keyring backend is available here; use the secrets file instead")
    import keyring

    return keyring


def store(site: str, ref: CredentialRef, secret: str, home: Path) -> None:
    """Save ``secret`` for ``site`` where its reference says (secrets file or keyring)."""
    if not secret or not secret.strip():
        raise ConfigError(f"site {site!r}: the secret must not be empty", key="secret")
    if ref.source == "secrets-file":
        secrets = _read_secrets(home)
        secrets[site] = secret.strip()
        write_atomic(secrets_path(home), json.dumps(secrets, indent=1), mode=0o600)
        secrets_path(home).chmod(0o600)
    elif ref.source == "keyring":
        _keyring(lambda detail: CredentialsError(f"site {site!r}: {detail}")).set_password(
            KEYRING_SERVICE, site, secret.strip())
    else:
        raise ConfigError(
            f"site {site!r} reads its secret from {ref.describe()}; set it there "
            "(only sites using the secrets file or the keyring store secrets)",
            key="credentials.source",
        )


def forget(site: str, home: Path) -> None:
    """Remove a site's entry from the secrets file (when its profile is removed)."""
    secrets = _read_secrets(home)
    if secrets.pop(site, None) is not None:
        write_atomic(secrets_path(home), json.dumps(secrets, indent=1), mode=0o600)


def available(site: str, auth: str, ref: CredentialRef, home: Path) -> bool:
    """True if the secret can be found (a token command counts as configured, not run)."""
    if ref.source == "token-command":
        return bool(ref.command)
    try:
        resolve(site, auth, ref, home)
    except (CredentialsError, ConfigError):
        return False
    return True
