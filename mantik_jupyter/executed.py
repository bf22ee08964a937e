"""Executed notebooks: the error that stopped a run, and a fetched copy kept beside the user's."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import ConfigError
from .paths import open_regular

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_reason(path: Path) -> str | None:
    """``ename: evalue (cell N)`` of the first failed cell papermill recorded, if any."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for index, cell in enumerate(notebook.get("cells", [])):
        if "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                ename = output.get("ename", "Error")
                evalue = _ANSI.sub("", output.get("evalue", "")).strip()
                count = cell.get("execution_count")
                where = f"cell {count}" if count else f"cell #{index + 1}"
                return f"{ename}: {evalue} ({where})" if evalue else f"{ename} ({where})"
    return None


def keep_beside(fetched: Path, folder: Path) -> Path:
    """Put a fetched file into ``folder`` without ever overwriting one there: the file of the
    same name if its content is the same, else the first free ``name-N.ext``, created
    exclusively (the user may have edited the copy fetched before)."""
    data = fetched.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        target = folder / (fetched.name if n == 0 else f"{fetched.stem}-{n}{fetched.suffix}")
        try:
            with open(target, "xb") as fh:
                fh.write(data)
            return target
        except FileExistsError:
            if _content(target) == data:
                return target
        n += 1


def _content(path: Path) -> bytes | None:
    """A regular file's bytes; None for anything else (a symlink, a folder, a FIFO)."""
    try:
        fd = open_regular(path)
    except (ConfigError, OSError):
        return None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()
