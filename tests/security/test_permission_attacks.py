"""Who may run what: command and file credential sources never come over REST, and no site
profile can send the Jupyter server's or hub's own token anywhere. (Which routes need
jupyter_server's ``execute`` permission: tests/server/test_api.py walks the route table.)"""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from mantik_jupyter.sites import SiteCatalog


class Recorder(http.server.BaseHTTPRequestHandler):
    """A gateway that records every request's headers and answers 401."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        Recorder.seen.append(str(self.headers))
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/rest/core"
    server.shutdown()


@pytest.mark.parametrize("source", [{"source": "token-command", "command": "touch /tmp/x"},
                                    {"source": "token-file", "path": "/etc/hostname"}])
async def test_command_and_file_sources_are_refused_over_rest(api, source, server_home):
    profile = {"name": "s", "kind": "unicore", "url": "https://gw.example/rest",
               "auth": "token", "credentials": source}
    body = json.loads((await api("POST", "sites", profile, expect=403)).body)
    assert body["details"]["key"] == "credentials.source"
    assert f"credential source {source['source']!r} runs a command or reads a file" in \
        body["message"] and "CLI" in body["message"]
    assert "s" not in {s["name"] for s in (await api.json("GET", "sites"))["sites"]}

    # a profile the CLI made with such a source: editable over REST while the source stays,
    # but no request may switch it to another command or file
    SiteCatalog(server_home).add(profile)
    moved = {**profile, "url": "https://gw2.example/rest"}
    assert (await api.json("PUT", "sites/s", moved))["settings"]["url"] == moved["url"]
    other = {**source, **({"command": "id"} if "command" in source else {"path": "/etc/os"})}
    await api("PUT", "sites/s", {**moved, "credentials": other}, expect=403)
    assert SiteCatalog(server_home).get("s").settings["credentials"] == source


async def test_a_site_never_receives_the_servers_own_token(api, recorder, monkeypatch):
    monkeypatch.setenv("JUPYTER_TOKEN", "planted-server-token")
    await api.json("POST", "sites", {"name": "thief", "kind": "unicore", "url": recorder,
                                     "auth": "token", "credentials": {
                                         "source": "env", "variable": "JUPYTER_TOKEN"}},
                   expect=201)
    result = await api.json("POST", "sites/thief/test")
    assert result["ok"] is False
    assert "JUPYTER_TOKEN holds the Jupyter server's or hub's own token" in result["message"]
    assert not any("planted-server-token" in h for h in Recorder.seen)
