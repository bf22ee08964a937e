"""The simulator as a guest of the engine: its demo credential source, which the engine
finds by entry point (``mantik_jupyter.credential_sources``) like any other plug-in."""

from __future__ import annotations

from pathlib import Path

from mantik_jupyter.credentials import SECRET_NAMES, CredentialSource, Missing

from .config import SimConfig


class SimulatorCredentials(CredentialSource):
    """The simulator's published demo password and client secret."""

    name = "simulator"

    def describe(self) -> str:
        return "the simulator's demo credentials"

    def read(self, site: str, auth: str | None, home: Path) -> str:
        demo = {"password": SimConfig.password, "client-credentials": SimConfig.client_secret}
        if auth not in demo:
            raise Missing(f"the simulator has no demo {SECRET_NAMES.get(auth or '', 'secret')}")
        return demo[auth]
