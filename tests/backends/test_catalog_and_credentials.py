"""The site catalog (presets, admin sites, user profiles) and the credential sources."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from mantik_jupyter import credentials
from mantik_jupyter.backends import LOGIN_NODE_KEYS, backend_class
from mantik_jupyter.errors import ConfigError, ConflictError, CredentialsError, ForbiddenError
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.spec import RunSpec

PROFILE = {"name": "mine", "kind": "unicore", "url": "https://unicore.example.org/X/rest/core",
           "username": "alice"}


def test_presets_cover_jsc_cscs_and_the_simulator(tmp_path):
    sites = {s.name: s for s in SiteCatalog(tmp_path).all()}
    assert sites["juwels"].settings["url"].endswith("/JUWELS/rest/core")
    assert sites["jureca"].settings["url"].endswith("/JURECA/rest/core")
    assert sites["daint"].settings["url"] == "https://api.cscs.ch/hpc/firecrest/v2"
    assert sites["clariden"].settings["url"] == "https://api.cscs.ch/ml/firecrest/v2"
    assert sites["santis"].settings["machine"] == "santis"
    assert sites["sim-unicore"].settings["url"] == "http://127.0.0.1:8765/DEMO-SITE/rest/core"
    assert sites["sim-firecrest"].settings["environment"] == {"Python": sys.prefix}
    assert all(s.preset and s.origin == "preset" for s in sites.values())


def test_user_profiles_are_owner_only_validated_and_cannot_shadow(tmp_path):
    catalog = SiteCatalog(tmp_path)
    catalog.add(PROFILE)
    path = tmp_path / "sites" / "mine.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SiteCatalog(tmp_path).get("mine").origin == "user"  # another process sees it
    with pytest.raises(ConflictError, match="exists already"):
        catalog.add({**PROFILE, "name": "juwels"})
    with pytest.raises(ForbiddenError, match="read-only"):
        catalog.remove("juwels")
    with pytest.raises(ConfigError, match="never holds a secret"):
        catalog.add({**PROFILE, "name": "leaky", "password": "hunter2"})
    with pytest.raises(ConfigError, match="allowed keys: "):
        catalog.add({**PROFILE, "name": "typo", "usrname": "bob"})
    with pytest.raises(ConfigError, match="'machine' is a required property"):
        catalog.add({**PROFILE, "name": "fc", "kind": "firecrest"})
    updated = catalog.update("mine", {**PROFILE, "queues": ["batch"]})
    assert updated.settings["queues"] == ["batch"]
    catalog.remove("mine")
    assert not path.exists()


def test_admin_sites_override_presets_and_are_read_only(tmp_path):
    admin = {"name": "juwels", "kind": "unicore", "title": "JUWELS via our gateway",
             "url": "https://gw.example.org/JUWELS/rest/core", "auth": "token",
             "credentials": {"source": "jupyterhub"}}
    catalog = SiteCatalog(tmp_path, admin_sites=[admin])
    site = catalog.get("juwels")
    assert site.origin == "admin" and site.settings["url"].startswith("https://gw.example")
    with pytest.raises(ForbiddenError):
        catalog.update("juwels", admin)


def test_secrets_live_apart_from_profiles(tmp_path, monkeypatch):
    catalog = SiteCatalog(tmp_path)
    catalog.add(PROFILE)
    assert not catalog.has_credentials("mine")
    catalog.set_credentials("mine", "s3cr3t-value")
    assert catalog.has_credentials("mine")
    secrets_file = credentials.secrets_path(tmp_path)
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert "s3cr3t-value" not in (tmp_path / "sites" / "mine.json").read_text()
    assert json.dumps(catalog.get("mine").to_dict()).find("s3cr3t") == -1
    secrets_file.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by others"):
        credentials.resolve("mine", "password", credentials.reference({"source": "secrets-file"}),
                            tmp_path)
    secrets_file.chmod(0o600)
    catalog.remove("mine")
    assert "mine" not in json.loads(secrets_file.read_text())


def test_each_source_resolves_or_says_what_is_missing(tmp_path, monkeypatch):
    def resolve(**ref: str) -> str:
        return credentials.resolve("s", "token", credentials.reference(ref), tmp_path)

    monkeypatch.setenv("MY_TOKEN", "from-env")
    assert resolve(source="env", variable="MY_TOKEN") == "from-env"
    with pytest.raises(CredentialsError, match="site 's': no access token in environment "
                                               "variable NOPE_TOKEN: NOPE_TOKEN is not set"):
        resolve(source="env", variable="NOPE_TOKEN")
    token = tmp_path / "token"
    token.write_text("from-file\n")
    token.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by others"):
        resolve(source="token-file", path=str(token))
    token.chmod(0o600)
    assert resolve(source="token-file", path=str(token)) == "from-file"
    assert resolve(source="token-command", command=f"cat {token}") == "from-file"
    with pytest.raises(CredentialsError, match="exited with code 1"):
        resolve(source="token-command", command="false")
    monkeypatch.setenv(credentials.HUB_TOKEN_VARIABLE, "from-hub")
    assert resolve(source="jupyterhub") == "from-hub"
    if not credentials.keyring_available():
        with pytest.raises(CredentialsError, match="no OS keyring backend"):
            resolve(source="keyring")


@pytest.mark.parametrize(("site", "runs"), [("local", set()),
                                            ("juwels", {"PreRunCommandOnLoginNode"}),
                                            ("daint", set())])
def test_login_node_commands_are_refused_by_capability(tmp_path, site, runs):
    site = SiteCatalog(tmp_path).get(site)
    backend = backend_class(site.kind)(site, tmp_path)
    assert backend.capabilities.login_node_commands == runs
    for key in LOGIN_NODE_KEYS:
        spec = RunSpec.from_config({"Environment": {key: "echo on the login node"}})
        if key in runs:  # passes this check; the site's next one wants credentials
            with pytest.raises(CredentialsError):
                backend.validate(spec)
            continue
        with pytest.raises(ConfigError, match=f"Environment.{key}: {backend.title} sites run "
                           f"(nothing|only PreRunCommandOnLoginNode) on a login node; move "
                           f"the command into {key.replace('Login', 'Compute')}"):
            backend.validate(spec)


def test_the_profile_schema_is_composed_from_backends_and_credential_sources(tmp_path):
    schema = SiteCatalog(tmp_path).schema()
    props = schema["properties"]
    assert props["kind"]["enum"] == ["firecrest", "slurm", "unicore"]  # local takes none
    assert props["auth"]["enum"] == ["client-credentials", "token", "password"]
    assert props["machine"]["description"] == "FirecREST: system name (daint, eiger, ...)"
    assert props["url"]["description"] == ("FirecREST: API URL (https://HOST/.../firecrest/v2)"
                                           "; UNICORE: REST base of the site "
                                           "(https://HOST/SITE/rest/core)")
    assert schema["required"] == ["name", "kind"]  # slurm needs no url
    assert props["transport"] == {"enum": ["local", "ssh"], "description": (
        "Slurm: where Slurm's commands run: local (Jupyter runs on a login node) or ssh "
        "(default: local)")}
    assert SiteCatalog(tmp_path).add({"name": "direct", "kind": "slurm"}).kind == "slurm"
    assert set(props["credentials"]["properties"]["source"]["enum"]) == {
        "secrets-file", "env", "token-file", "token-command", "jupyterhub", "keyring",
        "simulator"}
    catalog = SiteCatalog(tmp_path)
    with pytest.raises(ConfigError, match="site profile key auth: 'password' is not one of"):
        catalog.add({**PROFILE, "name": "fc", "kind": "firecrest", "machine": "daint",
                     "auth": "password"})
    with pytest.raises(ConfigError, match="'variable' is a required property"):
        catalog.add({**PROFILE, "credentials": {"source": "env"}})
