"""Sites: named places a run can go (the embedded ``local`` site, and HPC gateways)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import NotFoundError


@dataclass(frozen=True)
class Site:
    """A named connection profile: which backend kind and its (secret-free) settings."""

    name: str
    kind: str
    title: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    preset: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "settings": dict(self.settings),
            "preset": self.preset,
        }


LOCAL = Site("local", "local", "This machine (runs the notebook as a local process)")


class SiteCatalog:
    """The sites a user can submit to, by name."""

    def __init__(self, sites: list[Site] | None = None):
        self._sites = {s.name: s for s in (sites if sites is not None else [LOCAL])}

    def get(self, name: str) -> Site:
        """The site called ``name``; the error lists the known ones."""
        try:
            return self._sites[name]
        except KeyError:
            known = ", ".join(sorted(self._sites)) or "none"
            raise NotFoundError(
                f"unknown site {name!r}; known sites: {known}", key="site"
            ) from None

    def all(self) -> list[Site]:
        return sorted(self._sites.values(), key=lambda s: s.name)
