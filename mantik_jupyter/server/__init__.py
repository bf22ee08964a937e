"""The Jupyter server extension of mantik-jupyter (REST API, poller, events)."""
