"""Secrets of sites, kept apart from the profiles that name them.

A site profile holds only a *reference* to its secret (a password, a client secret or an
access token): ``credentials: {source: NAME, ...}``, where to find it, never the value.
Each source is one :class:`CredentialSource` class registered by entry point in the group
``mantik_jupyter.credential_sources``; the engine's are an owner-only secrets file in the
mantik home, an environment variable, an owner-only token file, a token command (e.g.
``oidc-token``), a token the JupyterHub deployment puts into the environment and the OS
keyring when a real keyring backend is installed. Every error names the site and the
source, never the secret.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from . import registry
from .errors import ConfigError, CredentialsError
from .locks import held
from .paths import write_atomic
from .variants import Variant, tagged_schema

SECRETS_FILE = "secrets.json"
DEFAULT_SOURCE = "secrets-file"
KEYRING_SERVICE = "mantik-jupyter"
HUB_TOKEN_VARIABLE = "MANTIK_HUB_ACCESS_TOKEN"  # noqa: S105 - a variable name
#: The Jupyter server's and JupyterHub's own tokens: never a site's secret, or a site
#: profile could send them to any URL.
SERVER_TOKEN_VARIABLES = frozenset({"JUPYTER_TOKEN", "MANTIK_JUPYTER_TOKEN",
                                    "JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"})
#: Which secret an ``auth`` method needs, in words for messages.
SECRET_NAMES = {"password": "password", "client-credentials": "client secret",
                "token": "access token"}


class Missing(Exception):
    """The source has no secret for the site; the text says what to do about it."""


class CredentialSource(ABC):
    """One place a site's secret can be. A new source is one subclass plus an entry point;
    its ``properties`` become the profile's ``credentials`` keys, the panel's fields and
    the ``sites add`` flags."""

    #: the value of ``source`` in a profile's ``credentials``
    name: ClassVar[str]
    #: the source's own keys in ``credentials`` (JSON schema, with a description each)
    properties: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    required: ClassVar[tuple[str, ...]] = ()
    #: False for a source that runs a program or reads a file of the server's choosing: a
    #: profile using it comes only from the CLI or the admin config, never over REST
    over_rest: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = dict(settings)

    @abstractmethod
    def describe(self) -> str:
        """The source in words for messages (no secret in it)."""

    @abstractmethod
    def read(self, site: str, auth: str | None, home: Path) -> str:
        """The secret of ``site``; raises :class:`Missing` saying what is missing."""

    def save(self, site: str, secret: str, home: Path) -> None:
        """Keep a secret the user gave (by default a source only reads)."""
        raise ConfigError(
            f"site {site!r} reads its secret from {self.describe()}; set it there "
            "(only sites using the secrets file or the keyring store secrets)",
            key="credentials.source")

    def configured(self, site: str, auth: str | None, home: Path) -> bool:
        """True if the secret can be found (for listings: cheap, never prompting)."""
        try:
            self.read(site, auth, home)
        except (Missing, CredentialsError):
            return False
        return True


def sources() -> dict[str, type[CredentialSource]]:
    """The installed credential sources by name."""
    return registry.load_all(registry.CREDENTIAL_SOURCES)


def schema() -> dict[str, Any]:
    """JSON schema of a profile's ``credentials`` mapping, from the installed sources."""
    return tagged_schema("source", {
        name: Variant(name, cls.properties, cls.required)
        for name, cls in sorted(sources().items())
    }, tag_description=f"where the secret is (default: {DEFAULT_SOURCE})")


def reference(data: Mapping[str, Any] | None) -> CredentialSource:
    """The source a profile's ``credentials`` mapping names (default: the secrets file)."""
    settings = {k: v for k, v in (data or {}).items() if k != "source"}
    name = (data or {}).get("source", DEFAULT_SOURCE)
    try:
        cls = registry.load(registry.CREDENTIAL_SOURCES, name)
    except KeyError:
        raise ConfigError(f"unknown credential source {name!r}; use one of "
                          f"{', '.join(sources())}", key="credentials.source") from None
    return cls(settings)


def resolve(site: str, auth: str | None, ref: CredentialSource, home: Path) -> str:
    """The secret of ``site`` from its source; CredentialsError says what is missing."""
    try:
        return ref.read(site, auth, home)
    except Missing as exc:
        what = SECRET_NAMES.get(auth or "", "secret")
        raise CredentialsError(f"site {site!r}: no {what} in {ref.describe()}: {exc}",
                               key="credentials") from None


def store(site: str, ref: CredentialSource, secret: str, home: Path) -> None:
    """Save ``secret`` for ``site`` where its reference says (secrets file or keyring)."""
    if not secret or not secret.strip():
        raise ConfigError(f"site {site!r}: the secret must not be empty", key="secret")
    ref.save(site, secret.strip(), home)


def available(site: str, auth: str | None, ref: CredentialSource, home: Path) -> bool:
    """True if the secret can be found (a token command counts as configured, not run)."""
    return ref.configured(site, auth, home)


# ---------------------------------------------------------------------- the secrets file
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
    try:
        secrets = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"the secrets file {path} is damaged ({exc}); fix it or remove "
                               "it and set the secrets again", key="credentials") from None
    if not isinstance(secrets, dict):
        raise CredentialsError(f"the secrets file {path} must hold a JSON object of site "
                               "names and secrets", key="credentials")
    return secrets


def _change_secrets(home: Path, site: str, secret: str | None) -> None:
    """Set (or with None remove) one site's entry of the secrets file, under its lock: the
    server's threads and a CLI process may change it at once, and each must keep the
    others' entries."""
    path = secrets_path(home)
    with held(path.with_name(path.name + ".lock")):
        secrets = _read_secrets(home)
        if secret is None:
            if secrets.pop(site, None) is None:
                return
        else:
            secrets[site] = secret
        write_atomic(path, json.dumps(secrets, indent=1), mode=0o600)


def forget(site: str, home: Path) -> None:
    """Remove a site's entry from the secrets file (when its profile is removed)."""
    _change_secrets(home, site, None)


class SecretsFile(CredentialSource):
    """The owner-only ``secrets.json`` in the mantik home, one entry per site."""

    name = "secrets-file"

    def describe(self) -> str:
        return "the mantik secrets file"

    def read(self, site: str, auth: str | None, home: Path) -> str:
        value = _read_secrets(home).get(site)
        if not value:
            raise Missing(f"set it with: mantik-jupyter sites credentials {site}")
        return value

    def save(self, site: str, secret: str, home: Path) -> None:
        _change_secrets(home, site, secret)


# ---------------------------------------------------------------------- the environment
class EnvVariable(CredentialSource):
    """An environment variable of the server (or CLI) process."""

    name = "env"
    properties = {"variable": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$(?!\n)",
                               "description": "environment variable that holds the secret"}}
    required = ("variable",)

    @property
    def variable(self) -> str:
        return self.settings.get("variable") or ""

    def describe(self) -> str:
        return f"environment variable {self.variable}"

    def read(self, site: str, auth: str | None, home: Path) -> str:
        if self.variable in SERVER_TOKEN_VARIABLES:
            raise Missing(f"{self.variable} holds the Jupyter server's or hub's own token, "
                          "which is never sent to a site; use a variable of your own")
        value = os.environ.get(self.variable, "").strip() if self.variable else ""
        if not value:
            raise Missing(f"{self.variable} is not set")
        return value


class JupyterHubToken(EnvVariable):
    """The user's access token the JupyterHub deployment puts into the environment."""

    name = "jupyterhub"
    required = ()

    @property
    def variable(self) -> str:
        return self.settings.get("variable") or HUB_TOKEN_VARIABLE

    def describe(self) -> str:
        return f"the JupyterHub-provided token ({self.variable})"


# ---------------------------------------------------------------------- files and commands
class TokenFile(CredentialSource):
    """An owner-only file holding a token (e.g. written by an agent)."""

    name = "token-file"
    properties = {"path": {"type": "string", "minLength": 1,
                           "description": "owner-only file that holds the token"}}
    required = ("path",)
    over_rest = False

    def describe(self) -> str:
        return f"token file {self.settings.get('path')}"

    def read(self, site: str, auth: str | None, home: Path) -> str:
        path = Path(self.settings.get("path") or "").expanduser()
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise Missing(exc.strerror or "cannot be read") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise Missing(f"the file is readable by others; run: chmod 600 {path}")
        if not text:
            raise Missing("the file is empty")
        return text


class TokenCommand(CredentialSource):
    """A command that prints a fresh token (e.g. ``oidc-token``)."""

    name = "token-command"
    properties = {"command": {"type": "string", "minLength": 1,
                              "description": "command that prints the token"}}
    required = ("command",)
    over_rest = False

    @property
    def command(self) -> str:
        return self.settings.get("command") or ""

    def describe(self) -> str:
        return f"token command {self.command!r}"

    def read(self, site: str, auth: str | None, home: Path) -> str:
        try:
            proc = subprocess.run(shlex.split(self.command), capture_output=True, text=True,
                                  timeout=30, check=False)
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise Missing(f"the command did not run ({type(exc).__name__})") from None
        if proc.returncode != 0:
            raise Missing(f"the command exited with code {proc.returncode}")
        token = proc.stdout.strip()
        if not token:
            raise Missing("the command printed nothing")
        return token

    def configured(self, site: str, auth: str | None, home: Path) -> bool:
        return bool(self.command)  # running it for a listing could prompt or take long


# ---------------------------------------------------------------------- the OS keyring
def keyring_available() -> bool:
    """True when the ``keyring`` package is installed with a real (not fail/null) backend."""
    try:
        import keyring
    except ImportError:
        return False
    backend = keyring.get_keyring()
    return getattr(backend, "priority", 0) > 0 and "fail" not in type(backend).__module__


class Keyring(CredentialSource):
    """The OS keyring (service ``mantik-jupyter``, one entry per site) where one exists."""

    name = "keyring"

    def describe(self) -> str:
        return "the OS keyring"

    def _keyring(self) -> Any:
        if not keyring_available():
            raise Missing("no OS keyring backend is available here; use the secrets file "
                          "instead")
        import keyring

        return keyring

    def read(self, site: str, auth: str | None, home: Path) -> str:
        value = self._keyring().get_password(KEYRING_SERVICE, site)
        if not value:
            raise Missing(f"no entry {KEYRING_SERVICE}/{site}")
        return value

    def save(self, site: str, secret: str, home: Path) -> None:
        try:
            keyring = self._keyring()
        except Missing as exc:
            raise CredentialsError(f"site {site!r}: {exc}") from None
        keyring.set_password(KEYRING_SERVICE, site, secret)
