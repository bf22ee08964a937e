"""A new kind of site is one module plus an entry point, and so is a credential source.

A throwaway distribution in a temporary folder (module + ``.dist-info`` with its entry
points, found on the import path as any installed distribution is) adds a backend kind
and a credential source. Without an edit to the engine they show in the profile schema,
the ``sites add`` flags, ``GET sites`` (the schema the lab's site form is built from and
the kinds' capabilities), and a profile of the new kind is added, holds its secret in the
new source and passes its connection test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mantik_jupyter.errors import ConfigError
from mantik_jupyter.sites import SiteCatalog

PLUGIN = '''
"""A throwaway backend kind and credential source (tests only)."""

from pathlib import Path

from mantik_jupyter import credentials
from mantik_jupyter.backends import Backend, Capabilities
from mantik_jupyter.errors import BackendError


class ThrowawayBackend(Backend):
    kind = "throwaway"
    title = "Throwaway"
    profile_properties = {
        "endpoint": {"type": "string", "pattern": "^https://",
                     "description": "where the throwaway gateway listens"},
        "region": {"enum": ["north", "south"], "description": "the region jobs run in"},
    }
    profile_required = ("endpoint",)
    auth_methods = ("api-key",)
    capabilities = Capabilities(job_arrays=True, deferred_start=True)

    def check(self):
        secret = credentials.resolve(self.site.name, self.site.auth, self.site.credential_ref,
                                     self.home)
        return f"throwaway {self.site.settings['region']} with a {len(secret)}-byte key"

    def _nothing(self, *args):
        raise BackendError("a throwaway site runs nothing")

    submit = find = status = cancel = read_log = list_files = download = delete = _nothing


class VaultFile(credentials.CredentialSource):
    name = "vault-file"
    properties = {"vault_path": {"type": "string", "minLength": 1,
                                 "description": "file of the throwaway vault"}}
    required = ("vault_path",)

    def describe(self):
        return f"vault file {self.settings['vault_path']}"

    def read(self, site, auth, home):
        path = Path(self.settings["vault_path"])
        if not path.is_file():
            raise credentials.Missing("no such vault")
        return path.read_text().strip()
'''

ENTRY_POINTS = """
[mantik_jupyter.backends]
throwaway = throwaway_plugin:ThrowawayBackend

[mantik_jupyter.credential_sources]
vault-file = throwaway_plugin:VaultFile
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """The throwaway distribution, not yet on the import path."""
    folder = tmp_path / "plugins"
    info = folder / "throwaway_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (folder / "throwaway_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway-plugin\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return folder


def sites_cli(home: Path, plugins: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MANTIK_JUPYTER_HOME": str(home),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins),
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "mantik_jupyter.cli", "sites", *args],
                          env=env, capture_output=True, text=True, timeout=120)


async def test_a_new_backend_kind_and_credential_source_are_one_module_each(
        api, server_home, plugin_dir, tmp_path, monkeypatch):
    profile = {"name": "tw", "kind": "throwaway", "endpoint": "https://tw.example.org",
               "region": "north"}
    with pytest.raises(ConfigError, match="kind"):  # not installed yet: no such kind
        SiteCatalog(tmp_path / "before").add(profile)
    assert "throwaway" not in (await api.json("GET", "sites"))["kinds"]

    # the command line: flags of the new kind's keys and of the new source's key
    vault = tmp_path / "vault"
    vault.write_text("k3y-of-the-vault\n")
    help_text = sites_cli(server_home, plugin_dir, "add", "--help")
    assert help_text.returncode == 0, help_text.stderr
    flat = " ".join(help_text.stdout.split())
    for expected in ("--endpoint ENDPOINT", "Throwaway: where the throwaway gateway listens",
                     "--region {north,south}", "--vault-path VAULT_PATH",
                     "vault-file: file of the throwaway vault", "throwaway"):
        assert expected in flat, flat
    added = sites_cli(server_home, plugin_dir, "add", "tw", "--kind", "throwaway",
                      "--endpoint", "https://tw.example.org", "--region", "north",
                      "--auth", "api-key", "--credentials", "vault-file",
                      "--vault-path", str(vault))
    assert added.returncode == 0, added.stderr
    refused = sites_cli(server_home, plugin_dir, "add", "tw2", "--kind", "throwaway",
                        "--region", "north")
    assert "'endpoint' is a required property" in refused.stderr

    # the server: the schema the site form is built from, the kind's capabilities, the site
    monkeypatch.syspath_prepend(str(plugin_dir))
    listing = await api.json("GET", "sites")
    schema = listing["schema"]
    assert "throwaway" in schema["properties"]["kind"]["enum"]
    assert schema["properties"]["region"]["enum"] == ["north", "south"]
    assert "api-key" in schema["properties"]["auth"]["enum"]
    assert "vault_path" in schema["properties"]["credentials"]["properties"]
    assert listing["kinds"]["throwaway"] == {
        "title": "Throwaway", "auth_methods": ["api-key"],
        "capabilities": {"login_node_commands": [], "deferred_start": True,
                         "job_arrays": True, "max_array_size": 1001,
                         "offline_tracking": False}}
    site = {s["name"]: s for s in listing["sites"]}["tw"]
    assert site["kind"] == "throwaway" and site["credentials_set"] is True
    assert site["settings"]["credentials"] == {"source": "vault-file",
                                               "vault_path": str(vault)}
    result = await api.json("POST", "sites/tw/test")
    assert result == {**result, "ok": True, "message": "throwaway north with a 16-byte key"}
    bad = await api.json("POST", "sites", {**profile, "name": "tw3", "region": "east"},
                         expect=422)
    assert "region" in bad["message"]
