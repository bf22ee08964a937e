"""The sha256 of project files, remembered by their ``stat`` as git's index does.

An entry is keyed by the file's path, size, mtime, ctime, inode and device: while none of
them changed, the file's content did not either, and bundling an unchanged folder costs one
``lstat`` per file (and one row: a project's whole answer is kept under the hash of its stat
keys). A file changed within ``RACY_NS`` before it was hashed may change again without its
mtime moving (coarse file-system clocks), so such an entry is hashed again next time, as git
does with "racily clean" entries. Processes share the cache (SQLite, WAL).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from .errors import ConflictError
from .paths import open_regular

#: Stat fields that identify one version of a file's content.
Key = tuple[int, int, int, int, int]
RACY_NS = 2_000_000_000  # FAT's 2 s clock is the coarsest a project may live on
_CHUNK = 1 << 20
_SCHEMA = """CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER,
    dev INTEGER, sha256 TEXT, checked_ns INTEGER);
CREATE TABLE IF NOT EXISTS trees (scope TEXT PRIMARY KEY, fingerprint TEXT, digests TEXT)"""


def stat_key(info: os.stat_result) -> Key:
    """The fields of a ``stat`` that change whenever the content may have."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def hash_file(path: Path, expected: Key) -> str:
    """The sha256 of a file, refused if it is no longer the version ``expected`` names."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        if stat_key(os.fstat(fd)) != expected:
            raise changed(path)
        digest = hashlib.sha256()
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def changed(path: Path) -> ConflictError:
    """The error for a file that changed while it was being bundled or sent."""
    return ConflictError(f"{str(path)!r} changed while the run was being submitted; "
                         "submit again once it is saved", key="notebook")


class HashCache:
    """File hashes by stat key, kept in a SQLite file (or nowhere: ``path=None``)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._ready = False

    def digests(self, files: Iterable[tuple[str, Key]], scope: str = "") -> dict[str, str]:
        """The sha256 of each ``(path, stat key)``, reading only files the cache lacks.

        The answer for a whole ``scope`` (a project folder) is kept too: while no stat key
        in it changed, one row is read instead of one per file.
        """
        files = list(files)
        fingerprint = hashlib.sha256(
            "\n".join(f"{path}\0{key}" for path, key in files).encode()).hexdigest()
        whole = self._tree(scope, fingerprint)
        if whole is not None:
            return whole
        known = self._load(files)
        result: dict[str, str] = {}
        fresh = []
        for path, key in files:
            hit = known.get(path)
            if hit and hit[0] == key and key[1] + RACY_NS < hit[2]:  # not racily clean
                result[path] = hit[1]
                continue
            started = time.time_ns()
            result[path] = hash_file(Path(path), key)
            fresh.append((path, *key, result[path], started))
        newest = max((key[1] for _, key in files), default=0)
        clean = newest + RACY_NS < time.time_ns()  # else a file may change unseen: not kept
        self._save(fresh, (scope, fingerprint, json.dumps(result)) if clean and scope else None)
        return result

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        if not self._ready:  # both persist in the file: once per process is enough
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._ready = True
        return conn

    def _load(self, files: list[tuple[str, Key]]) -> dict[str, tuple[Key, str, int]]:
        if self.path is None or not files:
            return {}
        wanted = {path for path, _ in files}
        low, high = min(wanted), max(wanted)
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT path, size, mtime_ns, ctime_ns, ino, dev, sha256, checked_ns "
                "FROM hashes WHERE path >= ? AND path <= ?", (low, high)).fetchall()
        finally:
            conn.close()
        return {row[0]: (tuple(row[1:6]), row[6], row[7]) for row in rows if row[0] in wanted}

    def _tree(self, scope: str, fingerprint: str) -> dict[str, str] | None:
        if self.path is None or not scope:
            return None
        conn = self._connect()
        try:
            row = conn.execute("SELECT digests FROM trees WHERE scope = ? AND fingerprint = ?",
                               (scope, fingerprint)).fetchone()
        finally:
            conn.close()
        return json.loads(row[0]) if row else None

    def _save(self, rows: list[tuple], tree: tuple[str, str, str] | None) -> None:
        if self.path is None or not (rows or tree):
            return
        conn = self._connect()
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?,?,?,?,?)", rows)
                if tree:
                    conn.execute("INSERT OR REPLACE INTO trees VALUES (?,?,?)", tree)
        finally:
            conn.close()
