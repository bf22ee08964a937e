"""What the FirecREST backend relies on, against the simulator and CSCS's own server alike:
``sites test``, finding a job again by its name and directory (the recovery of an interrupted
submit), and never sending a token the server would refuse as expiring too soon."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import httpx
import pytest
from helpers import FIRECREST_SITES, REAL_FIRECREST, make_notebook, wait_for, write_config

from mantik_jupyter.errors import NotFoundError
from mantik_jupyter.service import RunService
from mantik_jupyter.sim.tokens import MIN_TOKEN_TTL

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}
TOO_SOON = f"Access token expires too soon (less than {MIN_TOKEN_TTL}s remaining)."


@pytest.mark.parametrize("site", FIRECREST_SITES)
def test_sites_test_names_the_system_and_its_scheduler(cli, sim, site):
    machine = "daint-real" if site == REAL_FIRECREST else "daint-sim"
    out = cli("sites", "test", site).stdout
    assert out.startswith(f"{site}: ok: FirecREST"), out
    assert f"system {machine} (slurm " in out, out


@pytest.mark.parametrize("site", FIRECREST_SITES)
def test_a_job_is_found_again_by_its_name_and_directory(cli, session_home, sim, tmp_path,
                                                        site):
    nb = make_notebook(tmp_path / "found.ipynb", None, "print('never runs')")
    stop = write_config(tmp_path / "stop.yaml",
                        {"Environment": {"PreRunCommandOnComputeNode": "exit 3"}})
    submitted = cli.json("submit", str(nb), "--site", site, "--config", stop)
    service = RunService(home=session_home)
    backend = service.backend(site)
    record = service.get(submitted["id"])
    found = backend.find(record)
    assert (found.remote_job_id, found.work_dir) == (record.remote_job_id, record.work_dir)
    assert "papermill" in found.script
    assert wait_for(cli, record.id, TERMINAL)["exit_code"] == 3
    assert backend.find(record).remote_job_id == record.remote_job_id  # ended, still found

    # an attempt that died before its job reached the site: nothing found, its upload gone
    lost = replace(record, id=uuid.uuid4().hex[:12], remote_job_id=None)
    workspace = backend.workspace(lost.id)
    backend.client().mkdir(backend.machine, workspace, create_parents=True)
    assert backend.find(lost) is None
    with pytest.raises(NotFoundError):
        backend.list_files(replace(lost, work_dir=workspace))


def test_a_token_near_its_end_is_never_sent(real_firecrest, site_sim, session_home):
    """Tokens live 50 s here: over 25 s of calls the one first issued falls under FirecREST's
    30 s minimum; the backend must have replaced it before, so the server answered no 401."""
    site_sim.site.auth.lifetime = 50
    try:
        backend = RunService(home=session_home).backend(REAL_FIRECREST)
        form = {"grant_type": "client_credentials", "client_id": site_sim.config.client_id,
                "client_secret": site_sim.config.client_secret}
        first = httpx.post(site_sim.token_url, data=form).json()["access_token"]
        log = real_firecrest.access_log
        start = log.stat().st_size
        issued = time.monotonic()
        calls = 0
        while time.monotonic() - issued < 25:
            assert "daint-real" in backend.probe()
            calls += 1
            time.sleep(0.05)  # often enough to hit the second or so in which a token a
            # client believes has 30 s left has fewer on the server's clock
        answers = log.read_bytes()[start:].decode(errors="replace").splitlines()
        systems = [line for line in answers if '"GET /status/systems' in line]
        assert len(systems) >= calls, "every call must have reached the server"
        assert not [line for line in answers if '" 401' in line], "a token was refused"

        # the token issued with the backend's first one is now under the minimum: both
        # servers refuse it the same way
        headers = {"Authorization": f"Bearer {first}"}
        real = httpx.get(f"{real_firecrest.url}/status/systems", headers=headers)
        simulated = httpx.get(f"{site_sim.firecrest_url}/status/systems", headers=headers)
        assert real.status_code == simulated.status_code == 401
        assert TOO_SOON in real.text and TOO_SOON in simulated.text, (real.text,
                                                                      simulated.text)
    finally:
        site_sim.site.auth.lifetime = site_sim.config.token_lifetime
