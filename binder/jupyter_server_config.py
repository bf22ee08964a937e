"""Jupyter server settings for binder/start: the demo's MLflow UI behind the notebook server
(binder exposes one port) and JupyterLab opened on the quickstart."""

import os

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

# binder/start exports the port of the MLflow server it started; the proxy serves it at
# {base_url}mlflow/ (already running, so no command) with a launcher tile.
c.ServerProxy.servers = {
    "mlflow": {
        "command": [],
        "port": int(os.environ["MANTIK_DEMO_MLFLOW_PORT"]),
        "absolute_url": False,
        "launcher_entry": {"title": "MLflow"},
    },
}
# run links in the panel point there too (relative: resolved against the base URL)
c.MantikJupyter.mlflow_ui_url = "mlflow/"
# JupyterLab on the quickstart (the server's root is the repository), whichever app starts:
# `jupyter lab`, repo2docker's default `jupyter notebook`, or a hub's `jupyterhub-singleuser`
# (binder links choose their own page with ?urlpath=, which wins over these)
for app in (c.LabApp, c.JupyterNotebookApp, c.ServerApp):
    app.default_url = "/lab/tree/notebooks/quickstart.ipynb"
