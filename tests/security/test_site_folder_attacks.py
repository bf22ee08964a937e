"""Other users of the site: the run folder and the upload cache are owner-only before
anything is uploaded, the secrets file 0600, and what the job writes 0600 (umask 077)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from helpers import make_notebook

from mantik_jupyter.backends import JobRequest
from mantik_jupyter.backends.remote import SECRETS
from mantik_jupyter.errors import BackendError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService
from mantik_jupyter.spec import RunSpec

SITES = ("sim-firecrest", "sim-unicore")


@pytest.fixture
def service(home, process_simulator, mlflow_uri, monkeypatch) -> RunService:
    """The engine with the process simulator's presets and a tracking token: the job gets
    a secrets file."""
    home.mkdir(parents=True)
    (home / "sim").symlink_to(process_simulator.config.root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "planted-tracking-token")
    return RunService(home)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_folder(run, sim) -> Path:
    if run.site == "sim-firecrest":
        return Path(run.work_dir)
    return sim.config.root / "unicore" / "jobs" / run.remote_job_id.rstrip("/").rsplit("/", 1)[1]


def test_run_folders_caches_and_job_output_are_owner_only(service, process_simulator, tmp_path):
    nb = make_notebook(tmp_path / "p" / "nb.ipynb", None,
                       "open('out.txt', 'w').write('result')")
    runs = [service.submit(SubmitRequest(str(nb), site=site)) for site in SITES]
    for run in runs:
        done = service.wait(run.id, timeout=300)
        assert done.state == "COMPLETED", (done.state, done.reason)
        folder = run_folder(done, process_simulator)
        assert mode(folder) == 0o700, (run.site, oct(mode(folder)))
        for name in ("mantik-job.log", "out.txt"):  # written by the job, under umask 077
            assert mode(folder / name) == 0o600, (run.site, name, oct(mode(folder / name)))
        assert not (folder / SECRETS).exists()  # read and deleted by the job
        cache = Path(service.backend(run.site).cache_dir())
        assert mode(cache) == 0o700, (run.site, oct(mode(cache)))


def test_the_secrets_file_is_0600_in_a_0700_folder(service):
    backend = service.backend("sim-firecrest").backend
    job = JobRequest("secrets0test", "t", bundle=None, spec=RunSpec.from_config({}))
    workspace = backend.open_workspace(job, job.spec)
    try:
        backend.put_file(workspace, SECRETS, b"MLFLOW_TRACKING_TOKEN=x\n")
        backend.private_file(workspace, SECRETS)
        assert mode(Path(workspace)) == 0o700
        assert mode(Path(workspace) / SECRETS) == 0o600
    finally:
        backend.discard(workspace)


def test_a_unicore_folder_open_to_others_gets_nothing(service):
    cache = Path(service.backend("sim-unicore").cache_dir())
    cache.chmod(0o755)  # as a site with a lax umask makes it
    try:
        fresh = RunService(service.home).backend("sim-unicore")
        with pytest.raises(BackendError, match=r"site 'sim-unicore': the upload cache is open "
                                               r"to others \(rwxr-xr-x\); nothing is uploaded"):
            fresh.cache_dir()
    finally:
        cache.chmod(0o700)
