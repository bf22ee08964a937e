"""The simulator as a guest of the engine: its site presets and its demo credential source,
which the engine finds by entry point (``mantik_jupyter.site_presets``,
``mantik_jupyter.credential_sources``) like any other plug-in's."""

from __future__ import annotations

import sys
from pathlib import Path

from mantik_jupyter.credentials import SECRET_NAMES, CredentialSource, Missing
from mantik_jupyter.sites import Site

from .config import DEFAULT_PORT, SimConfig

QUEUES = ["batch", "devel", "booster"]


def presets(home: Path) -> list[Site]:
    """``sim-unicore`` and ``sim-firecrest``: the simulator started on the default root
    (``<home>/sim``) at its port (else the default port), logging in with its credentials."""
    from .simulator import read_state

    sim = f"http://127.0.0.1:{int(read_state(home / 'sim').get('port') or DEFAULT_PORT)}"
    # The simulator runs jobs on this machine, so they use this environment's papermill.
    here = {"Python": sys.prefix}
    return [
        Site("sim-unicore", "unicore", f"Local site simulator: UNICORE {SimConfig.site}", {
            "url": f"{sim}/{SimConfig.site}/rest/core", "auth": "password",
            "username": SimConfig.username, "credentials": {"source": "simulator"},
            "environment": here, "queues": QUEUES,
            "data_cache": str(home / "sim" / "data-cache" / "unicore"),
        }),
        Site("sim-firecrest", "firecrest", "Local site simulator: FirecREST daint-sim", {
            "url": f"{sim}/firecrest/v2", "token_url": f"{sim}/auth/token",
            "machine": "daint-sim", "auth": "client-credentials",
            "client_id": SimConfig.client_id, "credentials": {"source": "simulator"},
            "environment": here, "queues": QUEUES,
            # the simulated compute nodes are this machine, which has the network
            "data_cache": str(home / "sim" / "data-cache" / "firecrest"),
            "compute_network": True,
        }),
    ]


class SimulatorCredentials(CredentialSource):
    """The password and client secret of this home's running simulator, from its
    owner-only login file; none while it does not run (nothing is sent to whatever holds
    its port then)."""

    name = "simulator"

    def describe(self) -> str:
        return "the login file of this home's simulator"

    def read(self, site: str, auth: str | None, home: Path) -> str:
        from .simulator import read_login

        keys = {"password": "password", "client-credentials": "client_secret"}
        if auth not in keys:
            raise Missing(f"the simulator has no {SECRET_NAMES.get(auth or '', 'secret')}")
        login = read_login(home / "sim")
        if not login.get(keys[auth]):
            raise Missing(f"no simulator runs on {home / 'sim'}; start it with "
                          "'mantik-jupyter sim start'")
        return login[keys[auth]]
