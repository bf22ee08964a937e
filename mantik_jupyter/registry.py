"""Entry-point registries: what installed distributions add to the engine.

The groups are the engine's extension points: backends (one class per site kind),
credential sources (one class per place a secret can be), site presets (a function
giving sites) and CLI commands. Every group is read from the installed distributions'
metadata, once per import path (a test that puts a distribution on the path sees it).
"""

from __future__ import annotations

import functools
import logging
import sys
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import Any

log = logging.getLogger(__name__)

BACKENDS = "mantik_jupyter.backends"
CREDENTIAL_SOURCES = "mantik_jupyter.credential_sources"
SITE_PRESETS = "mantik_jupyter.site_presets"
COMMANDS = "mantik_jupyter.commands"


def names(group: str) -> list[str]:
    """The names registered in ``group``, in the order the distributions list them."""
    return list(_registered(group, tuple(sys.path)))


def load(group: str, name: str) -> Any:
    """The object registered as ``name`` in ``group``; KeyError if there is none."""
    return _registered(group, tuple(sys.path))[name].load()


def load_all(group: str) -> dict[str, Any]:
    """Every object of ``group`` by name; one that fails to import is left out and logged
    (a broken plug-in must not take the engine down with it)."""
    found = {}
    for name, entry in _registered(group, tuple(sys.path)).items():
        try:
            found[name] = entry.load()
        except Exception as exc:  # noqa: BLE001 - any import error of a plug-in
            log.warning("entry point %s in %s does not load: %s", name, group, exc)
    return found


@functools.lru_cache(maxsize=64)
def _registered(group: str, path: tuple[str, ...]) -> dict[str, EntryPoint]:
    # The first distribution on the path wins a name, as the import system does.
    found: dict[str, EntryPoint] = {}
    for entry in _installed(path).select(group=group):
        found.setdefault(entry.name, entry)
    return found


@functools.lru_cache(maxsize=8)
def _installed(path: tuple[str, ...]) -> EntryPoints:
    # One read of every distribution's entry points serves all groups (each read costs
    # about as much as reading them all).
    return entry_points()
