"""Where mantik-jupyter keeps its state: one home folder, owner-only."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
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
    """Write a file by rename so readers never see half of it. The temporary file's name is
    unique (mkstemp), so threads and processes writing the same file never share one."""
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(raw)
            while view:  # os.write may write less than asked
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_regular(path: Path) -> int:
    """An fd of ``path`` read-only, refused unless it is a regular file (a FIFO would block
    the reader forever, a device never ends), and never through a symlink at its end."""
    from .errors import ConfigError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise ConfigError(f"{str(path)!r} is a symlink, which is not followed",
                            key="path") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"{str(path)!r} is not a regular file", key="path")
    return fd


def copy_out(source: Path, target: Path, leave_out: frozenset[str] = frozenset()) -> Path:
    """Copy a run's file or folder to ``target`` without following any symlink.

    A file is opened only if it is regular (a FIFO would block the copy); in a folder,
    symlinks, FIFOs, sockets and devices are left out, so links pointing outside or in
    loops cannot add a byte. Names in ``leave_out`` are skipped at every level.
    """
    info = os.lstat(source)
    if stat.S_ISDIR(info.st_mode):
        target.mkdir(parents=True, exist_ok=True)
        with os.scandir(source) as entries:
            for entry in entries:
                if entry.name in leave_out:
                    continue
                if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
                    copy_out(Path(entry.path), target / entry.name, leave_out)
        return target
    fd = open_regular(source)
    with os.fdopen(fd, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.chmod(target, info.st_mode & 0o777)
    return target
