"""Files over FirecREST's 1 MiB ``ops/`` limit travel through ``transfer/``: the staging object
store and transfer jobs on real Slurm, driven by the real pyfirecrest client, through the
simulator and through CSCS's own server (its S3 store: moto)."""

from __future__ import annotations

import hashlib
import random
import time

import pytest
from helpers import FIRECREST_SITES, make_notebook, site_jobs

BIG = 3 * 1024 * 1024
OUTPUT = 1536 * 1024  # over the limit, and not a whole number of 1 MiB parts


def new_jobs(sim, before: set[str], site: str = "sim-firecrest") -> list[dict]:
    """The site's jobs created since ``before`` (a set of job ids)."""
    return [j for j in site_jobs(sim, site) if j["id"] not in before]


def big_project(tmp_path, cells: str) -> tuple:
    """A notebook next to ``data/big.bin`` (3 MiB, unique to the test): (notebook, data)."""
    data = random.Random(str(tmp_path)).randbytes(BIG)
    (tmp_path / "project" / "data").mkdir(parents=True)
    (tmp_path / "project" / "data" / "big.bin").write_bytes(data)
    return make_notebook(tmp_path / "project" / "big.ipynb", "expected: str = ''", cells), data


@pytest.mark.parametrize("site", FIRECREST_SITES)
def test_large_input_and_output_pass_through_transfer_jobs(cli, sim, tmp_path, site):
    nb, data = big_project(
        tmp_path,
        "import hashlib\nblob = open('data/big.bin', 'rb').read()\n"
        "digest = hashlib.sha256(blob).hexdigest()\nprint('read sha256', digest)\n"
        f"assert digest == expected, digest\nopen('out.bin', 'wb').write(blob[::-1][:{OUTPUT}])",
    )
    digest = hashlib.sha256(data).hexdigest()
    before = {j["id"] for j in site_jobs(sim, site)}
    run = cli.json("submit", str(nb), "--site", site, "-p", f"expected={digest}", "--wait")
    assert run["state"] == "COMPLETED", run
    assert run["bytes_uploaded"] >= BIG
    assert f"read sha256 {digest}" in cli("logs", run["id"]).stdout
    ingress = [j["state"] for j in new_jobs(sim, before, site)
               if j["name"] == "IngressFileTransfer"]
    assert ingress == ["COMPLETED"], "the 3 MiB file must go through one transfer job"

    out = tmp_path / "out"
    cli("download", run["id"], "out.bin", "--to", str(out))
    assert (out / "out.bin").read_bytes() == data[::-1][:OUTPUT]
    egress = [j["state"] for j in new_jobs(sim, before, site)
              if j["name"] == "OutgressFileTransfer"]
    assert egress == ["COMPLETED"]
    if site != "sim-firecrest":
        return  # faults are injected into the simulator only

    # the transfer job fails: the object store refuses the parts it sends
    sim.set_faults([{"route": "^/s3/", "methods": ["PUT"], "error_rate": 1.0}])
    again = tmp_path / "again"
    failed = cli("download", run["id"], "out.bin", "--to", str(again), check=False)
    assert failed.returncode != 0
    message = failed.stderr.strip()
    assert "downloading out.bin failed: transfer job" in message, message
    assert "ended FAILED" in message and "refused part 1 of 2" in message, message
    assert "ServiceUnavailable" in message and "X-Amz" not in message, message
    assert not any(again.iterdir()), "a failed download must leave no partial file"


def test_a_refused_upload_fails_the_submission_and_leaves_no_job(cli, sim, tmp_path):
    nb, _ = big_project(tmp_path, "print('never runs')")
    runs_before = {r["id"] for r in cli.json("runs")}
    before = {j["id"] for j in sim.jobs()}
    sim.set_faults([{"route": "^/s3/", "methods": ["PUT"], "error_rate": 1.0}])
    proc = cli("submit", str(nb), "--site", "sim-firecrest", check=False)
    assert proc.returncode != 0
    message = proc.stderr.strip()
    assert "uploading big.bin (3145728 bytes) to the upload cache failed" in message, message
    assert "the staging object store refused it" in message and "503" in message, message
    assert "X-Amz" not in message and "Traceback" not in message, message

    assert {r["id"] for r in cli.json("runs")} == runs_before, "no run record may remain"
    created = new_jobs(sim, before)
    assert [j["name"] for j in created] == ["IngressFileTransfer"], created
    deadline = time.monotonic() + 180
    while new_jobs(sim, before)[0]["state"] != "CANCELLED":  # scancel takes a moment
        assert time.monotonic() < deadline, new_jobs(sim, before)
        time.sleep(0.2)
