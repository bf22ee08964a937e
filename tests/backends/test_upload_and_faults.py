"""The incremental upload, idempotent submission and retries against injected faults."""

from __future__ import annotations

import json
import random

import pytest
from helpers import ALL_SITES, SITES, make_notebook, wait_for, write_config

FILES = 199
FILE_SIZE = 256 * 1024  # under FirecREST's 1 MiB direct-upload limit
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


# slurm-local left out: its upload cache is slurm-ssh's code on a local copy (CI time)
@pytest.mark.parametrize("site", [site for site in ALL_SITES if site != "slurm-local"])
def test_resubmission_sends_only_what_changed(cli, sim, tmp_path, site):
    project = tmp_path / "project"
    nb = make_notebook(project / "nb.ipynb", None, "print('hi')")
    rng = random.Random(f"{site}-{tmp_path}")
    (project / "data").mkdir()
    for i in range(FILES):
        (project / "data" / f"f{i:03}.bin").write_bytes(rng.randbytes(FILE_SIZE))
    size = sum(p.stat().st_size for p in project.rglob("*") if p.is_file())
    assert size > 50_000_000
    # The job restores the bundle and stops before papermill: only the upload is measured.
    config = write_config(tmp_path / "stop.yaml",
                          {"Environment": {"PreRunCommandOnComputeNode": "exit 3"}})

    def submit() -> dict:
        return cli.json("submit", str(nb), "--site", site, "--config", config)

    first, second = submit(), submit()
    assert first["bytes_uploaded"] >= size
    assert second["bytes_uploaded"] < 0.01 * size, second["bytes_uploaded"]

    changed = rng.randbytes(FILE_SIZE)
    (project / "data" / "f007.bin").write_bytes(changed)
    third = submit()
    assert FILE_SIZE <= third["bytes_uploaded"] < FILE_SIZE + 0.01 * size

    run = wait_for(cli, third["id"], TERMINAL)
    assert run["state"] == "FAILED" and run["exit_code"] == 3
    out = tmp_path / "out"
    cli("download", third["id"], "data/f007.bin", "--to", str(out))
    assert (out / "f007.bin").read_bytes() == changed  # restored from the cache in the job


def test_lost_replies_and_server_errors_neither_duplicate_nor_lose_runs(cli, sim, tmp_path):
    nb = make_notebook(tmp_path / "ok.ipynb", None, "print('fine')")
    stop = write_config(tmp_path / "stop.yaml",
                        {"Environment": {"PreRunCommandOnComputeNode": "exit 3"}})
    before = sim.faults["injected"]
    sim.set_faults([
        # the gateway creates the job, then the connection drops before the reply
        {"route": r"/(rest/core|compute/[^/]+)/jobs/?$", "methods": ["POST"],
         "lost_reply_rate": 1.0},
        {"route": "", "error_rate": 1.0, "every": 5},  # every 5th request to the site fails
    ])
    expected = {}
    for site in SITES:
        expected[cli("submit", str(nb), "--site", site).stdout.strip()] = "COMPLETED"
        expected[cli("submit", str(nb), "--site", site, "--config", stop).stdout.strip()] = \
            "FAILED"
    for run_id, state in expected.items():
        assert wait_for(cli, run_id, TERMINAL)["state"] == state
    injected = sim.faults["injected"]
    sim.set_faults([])
    assert injected["lost_reply"] - before["lost_reply"] >= len(expected), (before, injected)
    assert injected["error"] > before["error"], (before, injected)
    names = [job["name"] for job in sim.jobs()]
    for run_id in expected:
        assert names.count(f"mantik-{run_id}") == 1, f"run {run_id} made {names.count(run_id)}"
    runs = {r["id"]: r for r in json.loads(cli("runs", "--json").stdout)}
    assert {runs[r]["state"] for r in expected} == {"COMPLETED", "FAILED"}


def test_a_local_apptainer_image_is_uploaded_once_and_run(cli, sim, tmp_path):
    image = tmp_path / "image.sif"
    image.write_bytes(random.Random(str(tmp_path)).randbytes(300_000))
    nb = make_notebook(tmp_path / "project" / "nb.ipynb", None, "print(1)")
    config = write_config(tmp_path / "run.yaml", {"Environment": {
        "Apptainer": {"Path": str(image), "Options": ["--nv"]}}})
    first = cli.json("submit", str(nb), "--site", "sim-firecrest", "--config", config)
    assert "apptainer exec --nv mantik-image/image.sif bash -c 'papermill " in first["script"]
    assert first["bytes_uploaded"] > image.stat().st_size
    second = cli.json("submit", str(nb), "--site", "sim-firecrest", "--config", config)
    assert second["bytes_uploaded"] < image.stat().st_size
    run = wait_for(cli, second["id"], TERMINAL)
    assert run["state"] == "FAILED"  # this machine has no apptainer...
    out = tmp_path / "out"
    cli("download", second["id"], "mantik-image/image.sif", "--to", str(out))
    assert (out / "image.sif").read_bytes() == image.read_bytes()  # ...but the image arrived
