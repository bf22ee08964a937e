"""mantik-jupyter: run notebooks as tracked jobs on HPC sites from Jupyter.

Importing the package is cheap on purpose: MLflow, papermill and the gateway clients are
imported only by the code paths that use them.
"""

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict]:
    """Where ``jupyter labextension develop`` finds the built lab extension."""
    return [{"src": "labextension", "dest": "mantik-jupyter"}]


def _jupyter_server_extension_points() -> list[dict]:
    """Where jupyter_server finds the extension app (imported only when the server loads it)."""
    from .server.app import MantikJupyter

    return [{"module": "mantik_jupyter.server.app", "app": MantikJupyter}]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext mantik_jupyter`` loads the magics (same as ``%load_ext mantik_magics``)."""
    from mantik_magics import load_ipython_extension as load

    load(ipython)
