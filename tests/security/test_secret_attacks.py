"""Secrets a request or a job could get at: the MLflow URI's password in error bodies and
log lines, and the server's and hub's tokens in the environment of a local job."""

from __future__ import annotations

import json
import logging

import pytest
from helpers import make_notebook

from mantik_jupyter.errors import BackendError, MantikError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.tracking import Tracker

PASSWORD = "s3cr3t-pw"
URI = f"http://alice:{PASSWORD}@127.0.0.1:1/"  # nothing listens on port 1


@pytest.fixture
def fast_failing_mlflow(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@pytest.fixture
def jp_server_config(server_home, monkeypatch, fast_failing_mlflow):
    """A server whose MLflow tracking URI carries a password and cannot be reached."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", URI)
    return {"ServerApp": {"jpserver_extensions": {"mantik_jupyter": True}},
            "MantikJupyter": {"home": str(server_home)}}


def test_every_error_message_hides_url_credentials():
    message = MantikError("at http://alice:p@ss@host:5000/x and https://tok@h/y").message
    assert message == "at http://***@host:5000/x and https://***@h/y"


def test_the_tracker_error_names_the_server_not_the_password(tmp_path, fast_failing_mlflow):
    tracker = Tracker(tmp_path, URI)
    with pytest.raises(BackendError) as err:
        tracker.start(run_id="r", name="n", experiment=None, parameters={}, tags={})
    assert err.value.message.startswith("MLflow tracking at http://127.0.0.1:1/ failed: ")
    assert PASSWORD not in err.value.message and "alice:" not in err.value.message


async def test_a_failed_submit_and_the_server_log_carry_no_password(api, jp_root_dir,
                                                                    server_home, caplog):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    with caplog.at_level(logging.DEBUG):
        run = await api.json("POST", "runs", {"notebook": "nb.ipynb"}, expect=201)
        failed = await api.submitted(run)  # tracking fails in the server's background
    assert failed["state"] == "FAILED", failed
    assert failed["reason"].startswith("MLflow tracking at http://127.0.0.1:1/ failed: ")
    assert failed["remote_job_id"] is None and failed["mlflow_run_id"] is None  # no job
    assert PASSWORD not in json.dumps(failed) and PASSWORD not in caplog.text
    assert f"run {run['id']}: submission failed: MLflow tracking at" in caplog.text


def test_a_local_job_never_inherits_the_server_or_hub_token(home, tmp_path, monkeypatch):
    """A job gets an allowlist of the environment: no token, no key, nothing unknown."""
    planted = {"JUPYTER_TOKEN": "planted-jupyter-token",
               "MANTIK_HUB_ACCESS_TOKEN": "planted-hub-token",
               "AWS_SECRET_ACCESS_KEY": "planted-cloud-key",
               "JUPYTERHUB_API_TOKEN": "planted-api-token", "ADMIN_SETTING": "planted-x"}
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    nb = make_notebook(tmp_path / "nb.ipynb", None,
                       f"import os\nprint('inherited:', sorted(set(os.environ) & {set(planted)}))",
                       "print('has:', 'HOME' in os.environ, 'LANG' in os.environ)")
    service = RunService()
    run = service.wait(service.submit(SubmitRequest(str(nb))).id)
    log = service.logs(run.id).data.decode()
    assert run.state == "COMPLETED", log
    assert "inherited: []" in log and "planted-" not in log
    assert "has: True True" in log  # what running a notebook needs still comes along


def test_an_edited_site_is_served_by_its_new_profile_at_once(tmp_path):
    """A new URL, TLS setting or kind takes effect without a restart, so a secret set after
    the edit never goes to the old endpoint."""
    home = tmp_path / "home"
    catalog = SiteCatalog(home)
    catalog.add({"name": "s", "kind": "unicore", "url": "https://old.example/rest",
                 "username": "u"})
    service = RunService(home, catalog=catalog)
    old = service.backend("s")
    assert old.site.settings["url"] == "https://old.example/rest"
    assert service.backend("s") is old  # unchanged: the same instance, connections kept
    catalog.update("s", {"kind": "unicore", "url": "https://new.example/rest", "username": "u",
                         "verify_tls": False})
    new = service.backend("s")
    assert (new.site.settings["url"], new.site.settings["verify_tls"]) == \
        ("https://new.example/rest", False)
    catalog.update("s", {"kind": "firecrest", "url": "https://fc.example",
                         "token_url": "https://auth.example/token", "machine": "m",
                         "client_id": "c"})
    assert type(service.backend("s").backend).__name__ == "FirecrestBackend"
