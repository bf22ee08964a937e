"""Jupyter server settings for binder/start: the demo's MLflow UI behind the notebook server
(binder exposes one port) and JupyterLab opened on the quickstart."""

import os

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

# binder/start exports the port of the MLflow server it started; the proxy serves it at
# {base_url}mlflow/ with a launcher tile. start, not the proxy, runs MLflow because jobs track
# to it from the first submission, before anyone opens the UI; with no command the proxy only
# forwards (its 5 s start timeout, too short for MLflow, does not apply).
mlflow_port = int(os.environ["MANTIK_DEMO_MLFLOW_PORT"])
c.ServerProxy.servers = {
    "mlflow": {
        "command": [],
        "port": mlflow_port,
        "absolute_url": False,
        "launcher_entry": {"title": "MLflow"},
        # MLflow refuses a Host that is not its own (DNS rebinding) and state-changing
        # requests from another origin (its UI searches runs with POST); the proxy forwards the
        # hub's public name in both, so it presents them as local: the notebook server has
        # authenticated the request already.
        "request_headers_override": {"Host": f"127.0.0.1:{mlflow_port}", "Origin": ""},
    },
}
# run links in the panel point there too (relative: resolved against the base URL)
c.MantikJupyter.mlflow_ui_url = "mlflow/"
# JupyterLab on the quickstart (the server's root is the repository), whichever app starts:
# `jupyter lab`, repo2docker's default `jupyter notebook`, or a hub's `jupyterhub-singleuser`
# (binder links choose their own page with ?urlpath=, which wins over these)
for app in (c.LabApp, c.JupyterNotebookApp, c.ServerApp):
    app.default_url = "/lab/tree/notebooks/quickstart.ipynb"
