"""Settings of the simulated site: port, root folder, demo credentials, systems, executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
EXECUTORS = ("auto", "slurm", "process")


def default_root() -> Path:
    """``$MANTIK_JUPYTER_HOME/sim``, else ``<jupyter data dir>/mantik/sim``."""
    from mantik_jupyter.paths import home

    return home() / "sim"


@dataclass
class SimConfig:
    """Everything a simulator run is started with; defaults are the documented demo values."""

    root: Path = field(default_factory=default_root)
    port: int = DEFAULT_PORT
    executor: str = "auto"
    site: str = "DEMO-SITE"
    username: str = "demouser"
    password: str = "test123"  # noqa: S105 - the documented demo login
    client_id: str = "demo-client"
    client_secret: str = "demo-secret"  # noqa: S105 - the documented demo client
    systems: tuple[str, ...] = ("daint-sim", "eiger-sim")
    token_lifetime: int = 300
    app_version: str = "2.5.6"
    slots: int = 4
    stageout_seconds: float = 0.5
    slurm_conf: str | None = None

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            allowed = ", ".join(EXECUTORS)
            raise ValueError(f"executor must be one of {allowed}, not {self.executor!r}")
        self.root = Path(self.root).expanduser().resolve()
