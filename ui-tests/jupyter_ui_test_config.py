"""Jupyter server config for the browser tests (never use in production)."""

c = get_config()  # noqa: F821

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.expose_app_in_browser = True  # lets the tests switch the theme
c.MantikJupyter.poll_min_interval = 0.3
c.MantikJupyter.poll_max_interval = 2.0
