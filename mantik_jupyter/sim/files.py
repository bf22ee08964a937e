"""File access confined to a folder, shared by both gateways: resolve, describe, read ranges."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
import time
from pathlib import Path


class Forbidden(Exception):
    """A path that resolves outside the folder it must stay in."""


def confine(base: Path, path: str) -> Path:
    """Resolve ``path`` (relative to ``base``, or absolute) and refuse anything outside ``base``.

    Symbolic links are resolved first, so a link pointing out of ``base`` is refused as well.
    """
    if "\x00" in path:
        raise Forbidden(path)
    base = base.resolve()
    target = (base / path).resolve()  # an absolute path replaces base here
    if target != base and base not in target.parents:
        raise Forbidden(path)
    return target


def confine_any(bases: list[Path], path: str) -> Path:
    """Resolve an absolute ``path`` that must lie inside one of ``bases``."""
    if not path.startswith("/"):
        raise Forbidden(path)
    for base in bases:
        try:
            return confine(base, path)
        except Forbidden:
            continue
    raise Forbidden(path)


def owner_group(st: os.stat_result) -> tuple[str, str]:
    """Names of a file's owner and group (numeric ids when unknown)."""
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return user, group


def iso_time(ts: float) -> str:
    """``yyyy-MM-dd'T'HH:mm:ssZ`` in UTC offset notation as UNICORE writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


def read_range(path: Path, start: int, end: int | None) -> bytes:
    """Bytes ``start`` to ``end`` inclusive (to the end of file when ``end`` is None)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        return fh.read() if end is None else fh.read(max(0, end - start + 1))


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int | None]:
    """``Range: bytes=a-``, ``bytes=a-b`` or ``bytes=-n`` as (start, inclusive end or None)."""
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise ValueError(f"unsupported Range header {header!r}")
    first, last = m.group(1), m.group(2)
    if not first:
        return max(0, size - int(last)), None
    return int(first), (int(last) if last else None)


def permissions(mode: int) -> str:
    """``rwxr-x---`` style permission string of a mode."""
    return stat.filemode(mode)[1:]


def remove(path: Path) -> None:
    """Delete a file or link, or a whole directory tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
