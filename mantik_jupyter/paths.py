"""Where mantik-jupyter keeps its state: one home folder, owner-only."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``$MANTIK_JUPYTER_HOME``, else a ``mantik`` folder in Jupyter's data dir; created 0700."""
    env = os.environ.get("MANTIK_JUPYTER_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        from jupyter_core.paths import jupyter_data_dir

        path = Path(jupyter_data_dir()) / "mantik"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path.resolve()


def confined(root: Path, relative: str) -> Path:
    """Resolve a user-given relative path inside ``root``; refuse anything that escapes it."""
    from .errors import ConfigError

    rel = (relative or "").strip()
    if rel.startswith("/") or "\x00" in rel:
        raise ConfigError(f"path {relative!r} must be relative to the run directory", key="path")
    root = root.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise ConfigError(f"path {relative!r} leaves the run directory", key="path")
    return target


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write a file by rename so readers never see half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
