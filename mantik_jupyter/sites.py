"""Sites: named places a run can go, and the catalog that holds them.

Four origins, later ones overriding earlier ones by name where allowed:

- ``preset``: shipped here: this machine, the JSC systems through their UNICORE endpoints,
  the CSCS Alps systems through FirecREST v2; and those installed distributions add by
  entry point (the local site simulator's).
- ``admin``: given by a deployment through traitlets config (``MantikJupyter.sites``);
  they may replace a preset of the same name.
- ``user``: profiles a user added (CLI, panel), one owner-only JSON file each under
  ``<home>/sites/``, validated by :func:`profile_schema`; they cannot shadow other sites.

No profile ever holds a secret, only a reference to one (see :mod:`.credentials`).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import backends, credentials, registry
from .errors import ConfigError, ConflictError, ForbiddenError, NotFoundError
from .paths import write_atomic
from .variants import Variant, tagged_schema

log = logging.getLogger(__name__)

# JSON-schema patterns are searched; in Python "$" also matches before a final newline, so
# "$(?!\n)" ends the text in Python and in the lab's JavaScript alike.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$(?!\n)"
SECRET_KEYS = re.compile(r"pass(word)?|secret|token|api[_-]?key", re.IGNORECASE)
#: Keys that look like a secret's name but hold none.
NOT_SECRETS = frozenset({"token_url"})

#: The profile keys of every kind: name and title first, the kind and its keys between,
#: these last (with ``credentials`` from the installed credential sources).
NAMING_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "pattern": NAME_PATTERN,
             "description": "the site's name (letters, digits, . _ -)"},
    "title": {"type": "string", "description": "the site in words"},
}
RUN_PROPERTIES: dict[str, Any] = {
    "queues": {"type": "array", "items": {"type": "string", "minLength": 1},
               "description": "the site's queues (submissions to others are refused)"},
    "environment": {"type": "object", "description": (
        "default Environment of runs on the site (keys as in the run config)")},
    "data_cache": {"type": "string", "pattern": "^/", "description": (
        "folder on the site where CliMetLab Data is staged, shared by every run (e.g. on the "
        "project's scratch file system)")},
    "data_cache_read_only": {"type": "boolean", "description": (
        "jobs never write to data_cache (only staging does): a job's CliMetLab cache is a "
        "folder of its own linking to the shared files")},
}


def profile_schema() -> dict[str, Any]:
    """JSON schema of a site profile (user profiles and admin sites): the common keys,
    ``credentials`` from the installed credential sources and, per ``kind``, the keys of
    each installed backend that takes profiles."""
    return copy.deepcopy(_profile_schema(tuple(sys.path)))


@functools.lru_cache(maxsize=8)
def _profile_schema(path: tuple[str, ...]) -> dict[str, Any]:
    # Cached per import path, as the registry is: validation runs for every profile read.
    kinds = {}
    for kind, cls in sorted(backends.installed().items()):  # the same order everywhere
        if cls.profile_properties is None:
            continue
        own = dict(cls.profile_properties)
        if cls.auth_methods:
            own["auth"] = {"enum": list(cls.auth_methods), "description": (
                f"how the site authenticates (default: {cls.auth_methods[0]})")}
        kinds[kind] = Variant(cls.title, own, cls.profile_required)
    secret = {**credentials.schema(), "description": "where the site's secret is (never "
              "the secret itself)"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mantik-jupyter site profile",
        **tagged_schema("kind", kinds, before=NAMING_PROPERTIES,
                        after={"credentials": secret, **RUN_PROPERTIES}, required=("name",),
                        tag_description="the backend that serves the site"),
    }


@dataclass(frozen=True)
class Site:
    """A named connection profile: which backend kind and its (secret-free) settings."""

    name: str
    kind: str
    title: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    preset: bool = True
    origin: str = "preset"

    @property
    def auth(self) -> str | None:
        """How the site authenticates (its kind's default unless set); None: no secret."""
        methods = backends.backend_class(self.kind).auth_methods
        return self.settings.get("auth", methods[0] if methods else None)

    @property
    def credential_ref(self) -> credentials.CredentialSource:
        """Where the site's secret is found."""
        return credentials.reference(self.settings.get("credentials"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "settings": copy.deepcopy(self.settings),
            "preset": self.preset,
            "origin": self.origin,
        }

    def to_profile(self) -> dict[str, Any]:
        """The profile document (the shape :func:`profile_schema` validates)."""
        return {"name": self.name, "kind": self.kind, "title": self.title, **self.settings}


LOCAL = Site("local", "local", "This machine (runs the notebook as a local process)")

JSC_UNICORE = "https://zam2125.zam.kfa-juelich.de:9112/{}/rest/core"
CSCS_AUTH = "https://auth.cscs.ch/auth/realms/firecrest-clients/protocol/openid-connect"
CSCS_PLATFORMS = {"daint": "hpc", "eiger": "hpc", "clariden": "ml", "santis": "cw"}


def _from_profile(data: Mapping[str, Any], origin: str) -> Site:
    settings = {k: v for k, v in data.items() if k not in ("name", "kind", "title")}
    return Site(data["name"], data["kind"], data.get("title", ""), settings,
                preset=origin != "user", origin=origin)


def validate_profile(data: Any) -> dict[str, Any]:
    """Check a profile against the schema; the error names the key and what is allowed."""
    from jsonschema import Draft202012Validator

    if not isinstance(data, Mapping):
        raise ConfigError("a site profile must be a mapping of keys", key="profile")
    for key in data:
        if SECRET_KEYS.search(str(key)) and key not in NOT_SECRETS:
            raise ConfigError(
                f"profile key {key!r}: a profile never holds a secret; store it with "
                "'mantik-jupyter sites credentials NAME' or reference it under 'credentials'",
                key=str(key),
            )
    schema = _profile_schema(tuple(sys.path))
    errors = sorted(Draft202012Validator(schema).iter_errors(dict(data)),
                    key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path) or "profile"
        message = error.message
        if error.validator == "additionalProperties":
            allowed = sorted(_schema_at(schema, error.absolute_path).get("properties", {}))
            message += f"; allowed keys: {', '.join(allowed)}"
        raise ConfigError(f"site profile: {message}" if where == "profile" else
                          f"site profile key {where}: {message}", key=where)
    if "environment" in data:
        from .spec import validate_config

        validate_config({"Environment": data["environment"]})
    return copy.deepcopy(dict(data))


def _schema_at(schema: dict[str, Any], path: Any) -> dict[str, Any]:
    for part in path:
        schema = schema.get("properties", {}).get(part, {})
    return schema


def presets(home: Path) -> list[Site]:
    """The shipped sites: local, JSC (UNICORE), CSCS Alps (FirecREST v2), then the guests'."""
    jsc = [
        ("juwels", "JUWELS", "JUWELS at JSC (UNICORE)"),
        ("jureca", "JURECA", "JURECA-DC at JSC (UNICORE)"),
        ("jusuf", "JUSUF", "JUSUF at JSC (UNICORE)"),
    ]
    sites = [LOCAL]
    sites += [Site(name, "unicore", title, {
        "url": JSC_UNICORE.format(site), "auth": "password",
        "credentials": {"source": "secrets-file"},
    }) for name, site, title in jsc]
    sites += [Site(name, "firecrest", f"{name.capitalize()} on CSCS Alps (FirecREST v2)", {
        "url": f"https://api.cscs.ch/{platform}/firecrest/v2", "token_url": f"{CSCS_AUTH}/token",
        "machine": name, "auth": "client-credentials",
        "credentials": {"source": "secrets-file"},
    }) for name, platform in CSCS_PLATFORMS.items()]
    return sites + guest_presets(home, taken={s.name for s in sites})


def guest_presets(home: Path, taken: set[str]) -> list[Site]:
    """Presets that installed distributions add by entry point (``mantik_jupyter.site_presets``,
    a function of the mantik home giving sites), e.g. the simulator's; one whose name is
    taken or whose kind is not installed is left out and logged."""
    found: list[Site] = []
    kinds = set(registry.names(registry.BACKENDS))
    for name, make in registry.load_all(registry.SITE_PRESETS).items():
        for site in make(home):
            if site.name in taken or site.kind not in kinds:
                log.warning("preset %s from %s left out: %s", site.name, name,
                            "its name is taken" if site.name in taken else
                            f"no backend for kind {site.kind!r}")
                continue
            taken.add(site.name)
            found.append(site)
    return found


class SiteCatalog:
    """The sites a user can submit to, by name: presets, admin sites and user profiles.

    ``SiteCatalog(sites=[...])`` is a fixed catalog (tests, embedding); with ``home`` the
    presets, ``admin_sites`` (profile mappings from traitlets config) and the user
    profiles under ``<home>/sites`` are read (user profiles on every call, so sites added
    by another process show up).
    """

    def __init__(
        self,
        home: Path | None = None,
        *,
        admin_sites: list[Mapping[str, Any]] | None = None,
        sites: list[Site] | None = None,
    ):
        self.home = Path(home) if home else None
        if sites is not None:
            fixed = list(sites)
        elif self.home is not None:
            fixed = presets(self.home)
        else:
            fixed = [LOCAL]
        self._fixed = {s.name: s for s in fixed}
        for data in admin_sites or ():
            site = _from_profile(validate_profile(data), "admin")
            self._fixed[site.name] = site

    # ------------------------------------------------------------------ reads
    @property
    def profiles_dir(self) -> Path:
        if self.home is None:
            raise ForbiddenError("this site catalog keeps no user profiles", key="site")
        return self.home / "sites"

    def _user_sites(self) -> dict[str, Site]:
        if self.home is None or not self.profiles_dir.is_dir():
            return {}
        found = {}
        for path in sorted(self.profiles_dir.glob("*.json")):
            try:
                site = _from_profile(validate_profile(json.loads(path.read_text())), "user")
            except (ValueError, ConfigError):
                continue  # a broken file is reported by 'sites list', never used
            if site.name not in self._fixed:
                found[site.name] = site
        return found

    def get(self, name: str) -> Site:
        """The site called ``name``; the error lists the known ones."""
        sites = {**self._fixed, **self._user_sites()}
        try:
            return sites[name]
        except KeyError:
            known = ", ".join(sorted(sites)) or "none"
            raise NotFoundError(
                f"unknown site {name!r}; known sites: {known}", key="site"
            ) from None

    def all(self) -> list[Site]:
        return sorted({**self._fixed, **self._user_sites()}.values(), key=lambda s: s.name)

    def schema(self) -> dict[str, Any]:
        """The JSON schema user profiles are validated against."""
        return profile_schema()

    def kinds(self) -> dict[str, Any]:
        """What each installed kind of site is and can do, for faces to ask (not to guess
        from the kind's name)."""
        return {kind: {"title": cls.title, "auth_methods": list(cls.auth_methods),
                       "capabilities": cls.capabilities.to_dict()}
                for kind, cls in backends.installed().items()}

    # ------------------------------------------------------------------ user profiles
    def add(self, profile: Mapping[str, Any], *, base: str | None = None) -> Site:
        """Validate and save a new user profile; ``base`` copies another site's settings
        (e.g. a preset) under the given ones."""
        data = dict(profile)
        if base is not None:
            origin = self.get(base)
            data = {"kind": origin.kind, "title": origin.title, **origin.settings, **data}
        data = validate_profile(data)
        name = data["name"]
        if name in self._fixed or name in self._user_sites():
            what = "a user profile" if name in self._user_sites() else f"a {self.get(name).origin}"
            raise ConflictError(f"site {name!r} exists already ({what}); choose another name",
                                key="name")
        return self._write(data)

    def update(self, name: str, profile: Mapping[str, Any]) -> Site:
        """Replace a user profile's settings (presets and admin sites are read-only)."""
        self._own(name)
        data = validate_profile({**dict(profile), "name": name})
        return self._write(data)

    def remove(self, name: str) -> None:
        """Delete a user profile and its entry in the secrets file."""
        self._own(name)
        (self.profiles_dir / f"{name}.json").unlink()
        credentials.forget(name, self.home)

    def _own(self, name: str) -> Site:
        site = self.get(name)
        if site.origin != "user":
            raise ForbiddenError(f"site {name!r} is a {site.origin} site and read-only; add "
                                 f"your own with: mantik-jupyter sites add NAME --base {name}",
                                 key="name")
        return site

    def _write(self, data: dict[str, Any]) -> Site:
        self.profiles_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.profiles_dir / f"{data['name']}.json",
                     json.dumps(data, indent=1, sort_keys=True), mode=0o600)
        return _from_profile(data, "user")

    # ------------------------------------------------------------------ secrets
    def set_credentials(self, name: str, secret: str) -> None:
        """Store a site's secret where its profile's reference says (never in the profile)."""
        site = self.get(name)
        credentials.store(site.name, site.credential_ref, secret, self._home())

    def has_credentials(self, name: str) -> bool:
        """True if the site's secret can be found (the value is never returned)."""
        site = self.get(name)
        if site.auth is None:  # the kind needs no secret
            return True
        return credentials.available(site.name, site.auth, site.credential_ref, self._home())

    def _home(self) -> Path:
        if self.home is None:
            raise ForbiddenError("this site catalog has no home for secrets", key="site")
        return self.home
