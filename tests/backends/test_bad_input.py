"""Bad input on the gateway sites: one clear line, and nothing left behind anywhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest
from helpers import make_notebook, write_config

#: What ``submit`` prints on stderr per phase (``cli_progress``) without a terminal.
PHASE_LINE = re.compile(
    r"mantik-jupyter: [0-9a-f]{12} (bundling|uploading|staging data|submitting).*")


def add_site(cli, *args: str, secret: str | None = None) -> None:
    """``mantik-jupyter sites add ...`` as a user types it (secret on standard input)."""
    extra = ["--secret-stdin"] if secret is not None else []
    proc = subprocess.run([sys.executable, "-m", "mantik_jupyter.cli", "sites", "add", *args,
                           *extra], env=cli.env, input=f"{secret}\n" if secret else None,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def bad_sites(cli, site_sim, tmp_path_factory) -> None:
    """User profiles that point at the simulator but are wrong in one way each."""
    sim = site_sim
    unicore = ["--kind", "unicore", "--url", sim.unicore_url, "--username", "demouser"]
    firecrest = ["--kind", "firecrest", "--url", sim.firecrest_url, "--machine", "daint-sim"]
    add_site(cli, "bad-nocreds", *unicore, "--credentials", "env",
             "--variable", "MANTIK_TEST_UNSET_PASSWORD")
    add_site(cli, "bad-password", *unicore, secret="not-the-password")
    add_site(cli, "bad-noqueues-u", *unicore, "--credentials", "simulator")
    add_site(cli, "bad-noqueues-f", *firecrest, "--token-url", sim.token_url,
             "--client-id", "demo-client", "--credentials", "simulator")
    token = httpx.post(sim.token_url, data={
        "grant_type": "client_credentials", "client_id": sim.config.client_id,
        "client_secret": sim.config.client_secret}).json()["access_token"]
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    add_site(cli, "bad-stale-token", *firecrest, "--auth", "token", "--credentials",
             "token-file", "--path", str(token_file))
    sim.expire_tokens()


CASES = {
    "unknown site": (["--site", "nowhere"], None, "unknown site 'nowhere'; known sites:"),
    "missing credentials": (["--site", "bad-nocreds"], None,
                            "no password in environment variable MANTIK_TEST_UNSET_PASSWORD"),
    "wrong password": (["--site", "bad-password"], None,
                       "refused the credentials from the mantik secrets file"),
    "expired token": (["--site", "bad-stale-token"], None, "refused the credentials from "
                      "token file"),
    "queue not in the profile": (["--site", "sim-unicore"], {"Resources": {"Queue": "gpu"}},
                                 "site 'sim-unicore' has no queue 'gpu'; its queues: batch"),
    "queue the batch system lacks (UNICORE)": (
        ["--site", "bad-noqueues-u"], {"Resources": {"Queue": "gpu"}},
        "invalid partition specified: gpu"),
    "queue the batch system lacks (FirecREST)": (
        ["--site", "bad-noqueues-f"], {"Resources": {"Queue": "gpu"}},
        "invalid partition specified: gpu"),
    "login-node command on FirecREST": (
        ["--site", "sim-firecrest"], {"Environment": {"PreRunCommandOnLoginNode": "ls"}},
        "Environment.PreRunCommandOnLoginNode: FirecREST sites run nothing on a login node"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line_and_leaves_nothing(cli, sim, session_home, bad_sites,
                                                        tmp_path, case):
    args, config, expected = CASES[case]
    nb = make_notebook(tmp_path / "ok.ipynb", None, "print(1)")
    if config is not None:
        args = [*args, "--config", write_config(tmp_path / "run.yaml", config)]
    runs_before = len(json.loads(cli("runs", "--json").stdout))
    def run_jobs() -> list[str]:  # the upload cache's holder job is not a run
        return [j["id"] for j in sim.jobs() if j["name"] != "mantik-upload-cache"]

    jobs_before = run_jobs()
    run_dirs = sim.site.filesystems("daint-sim")["users"] / "mantik-runs"
    dirs_before = sorted(run_dirs.iterdir()) if run_dirs.exists() else []

    proc = cli("submit", str(nb), *args, check=False)
    assert proc.returncode != 0
    # one clear line, after the line per phase a submit prints when stderr is no terminal
    lines = proc.stderr.splitlines()
    assert all(PHASE_LINE.fullmatch(line) for line in lines[:-1]), proc.stderr
    assert expected in lines[-1] and lines[-1].startswith("mantik-jupyter: error:"), lines
    assert "Traceback" not in proc.stderr
    assert len(json.loads(cli("runs", "--json").stdout)) == runs_before
    staging = session_home / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    assert run_jobs() == jobs_before  # a job the site refused was removed again
    assert (sorted(run_dirs.iterdir()) if run_dirs.exists() else []) == dirs_before
