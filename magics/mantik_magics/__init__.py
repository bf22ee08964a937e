"""mantik-jupyter magics: submit the notebook you are in to an HPC site, from the notebook.

``%load_ext mantik_magics`` registers ``%%mantik_submit``, ``%mantik_runs``,
``%mantik_status``, ``%mantik_logs``, ``%mantik_cancel``, ``%mantik_rerun``,
``%mantik_download`` and ``%mantik_sites`` (each with ``-h``). Importing this package and
loading the extension stay cheap: nothing of the engine, MLflow or papermill is imported
until a magic needs it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics with an IPython shell (``%load_ext mantik_magics``)."""
    from .magics import MantikMagics

    ipython.register_magics(MantikMagics)
