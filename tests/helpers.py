"""Helpers shared by the tests (importable as ``helpers`` from any test folder)."""

from __future__ import annotations

from pathlib import Path

import nbformat


def make_notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    """Write a notebook with an optional tagged parameters cell followed by code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
