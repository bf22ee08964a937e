"""What an executed notebook tells about its run: the error that stopped it."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
