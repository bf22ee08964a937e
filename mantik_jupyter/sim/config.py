"""Settings of the simulated site: port, root folder, demo credentials, systems, executor."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
#: the port the presets name while no simulator of this home runs (one that runs is on a
#: free port of its own, read from its state file)
DEFAULT_PORT = 8765
EXECUTORS = ("auto", "slurm", "process")
MAX_BODY = 64 * 1024 * 1024  # the largest request body the simulator reads


def random_secret() -> str:
    """A password or client secret made for one simulator start: nobody else on the machine
    knows it (it is kept in the root's owner-only login file)."""
    return secrets.token_urlsafe(18)


def default_root() -> Path:
    """``$MANTIK_JUPYTER_HOME/sim``, else ``<jupyter data dir>/mantik/sim``."""
    from mantik_jupyter.paths import home

    return home() / "sim"


@dataclass
class SimConfig:
    """Everything a simulator run is started with: by default a free port and a password
    and client secret of its own (another user of the machine can neither guess them nor
    hold the port the presets use)."""

    root: Path = field(default_factory=default_root)
    port: int = 0
    executor: str = "auto"
    site: str = "DEMO-SITE"
    username: str = "demouser"
    password: str = field(default_factory=random_secret)
    client_id: str = "demo-client"
    client_secret: str = field(default_factory=random_secret)
    systems: tuple[str, ...] = ("daint-sim", "eiger-sim")
    token_lifetime: int = 300
    app_version: str = "2.5.6"
    slots: int = 4
    stageout_seconds: float = 0.5
    slurm_conf: str | None = None
    #: FirecREST's ``max_ops_file_size``: the largest file ``ops/upload``/``ops/download``
    #: take (CSCS Alps: 1 MiB); larger files go through ``transfer/`` and the object store.
    max_ops_file_size: int = 1024 * 1024
    #: Part size of the staging object store's multipart transfers (small, so that tests
    #: move several parts; a request body of the simulator holds at most 64 MiB).
    max_part_size: int = 1024 * 1024
    #: Seconds the object store's presigned URLs stay valid.
    url_ttl: int = 3600

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            allowed = ", ".join(EXECUTORS)
            raise ValueError(f"executor must be one of {allowed}, not {self.executor!r}")
        if not 0 < self.max_part_size <= MAX_BODY:
            raise ValueError(f"max_part_size must be 1 to {MAX_BODY} bytes, not "
                             f"{self.max_part_size}")
        if self.max_ops_file_size <= 0 or self.url_ttl <= 0:
            raise ValueError("max_ops_file_size and url_ttl must be positive")
        self.root = Path(self.root).expanduser().resolve()
