"""pytest plugin: CSCS's own FirecREST server (``scripts/firecrest-up``) over the real Slurm.

The server's source is found through one setting, ``FIRECREST_SRC`` (a checkout of
eth-cscs/firecrest-v2 at tag 2.5.6), defaulting to ``<repo>/../shared/third_party/
firecrest-v2-2.5.6``. It trusts the tokens of the session's simulator (its JWKS file), so the
simulator's demo client works for both. Without the source or root, the tests skip naming
what is missing; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slurm_fixtures import REPO, unavailable

#: the profile of the real server in the session's home, beside the simulator's presets
REAL_SITE = "firecrest-real"
REAL_MACHINE = "daint-real"
NEED = "CSCS's FirecREST server (FIRECREST_SRC)"


def firecrest_src() -> Path:
    """The server's source: ``FIRECREST_SRC`` or the shared snapshot beside the repository."""
    default = REPO.parent / "shared" / "third_party" / "firecrest-v2-2.5.6"
    return Path(os.environ.get("FIRECREST_SRC") or default)


@dataclass
class RealFirecrest:
    """The running server: its URL, its state folder (logs) and the profile's name."""

    url: str
    base: Path
    site: str = REAL_SITE
    machine: str = REAL_MACHINE

    @property
    def access_log(self) -> Path:
        """uvicorn's log: one line per request with its status."""
        return self.base / "log" / "server.log"


@pytest.fixture(scope="session")
def real_firecrest(site_sim, session_home: Path) -> Iterator[RealFirecrest]:
    """The real server, up once per session, and the ``firecrest-real`` profile for it."""
    src = firecrest_src()
    if not (src / "src" / "firecrest" / "main.py").is_file():
        unavailable(f"FirecREST's source is not at {src}: set FIRECREST_SRC to a checkout of "
                    "eth-cscs/firecrest-v2 at tag 2.5.6", need=NEED)
    if os.geteuid() != 0:
        unavailable("needs root to start sshd for scripts/firecrest-up", need=NEED)
    env = {**os.environ, "FIRECREST_SRC": str(src), "FIRECREST_TOKEN_URL": site_sim.token_url,
           "FIRECREST_JWKS": str(site_sim.jwks_path),
           # its service account is the simulator's client, whose secret is made per start
           "FIRECREST_CLIENT_SECRET": site_sim.config.client_secret}
    try:
        proc = subprocess.run([str(REPO / "scripts" / "firecrest-up")], env=env,
                              capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        unavailable("scripts/firecrest-up did not finish within 30 minutes", need=NEED)
    if proc.returncode != 0 or "firecrest ready" not in proc.stdout:
        unavailable(f"scripts/firecrest-up failed ({proc.returncode}): {proc.stderr[-2000:]}",
                    need=NEED)
    url = next(line.split("=", 1)[1] for line in proc.stdout.splitlines()
               if line.startswith("export FIRECREST_URL="))
    base = Path(os.environ.get("FIRECREST_BASE") or REPO / ".firecrest")

    from mantik_jupyter.sites import SiteCatalog

    SiteCatalog(session_home).add({
        "name": REAL_SITE, "kind": "firecrest", "title": "CSCS's FirecREST 2.5.6 over Slurm",
        "url": url, "token_url": site_sim.token_url, "machine": REAL_MACHINE,
        "auth": "client-credentials", "client_id": site_sim.config.client_id,
        "credentials": {"source": "simulator"}, "environment": {"Python": sys.prefix},
        "queues": ["batch", "devel", "booster"],
    })
    yield RealFirecrest(url, base)
    subprocess.run([str(REPO / "scripts" / "firecrest-down")], env=env, capture_output=True,
                   timeout=120)
