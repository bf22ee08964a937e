"""A file in the site's upload cache damaged or half rewritten (same size: all the client
compares) is caught by the job, which checks each restored file's sha256: the run fails
naming the file, the damaged copy leaves the cache, and the next submit uploads it anew."""

from __future__ import annotations

from pathlib import Path

from helpers import make_notebook

from mantik_jupyter.backends.remote import MANIFEST
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService

SITE = "sim-firecrest"  # its run folder is a plain path on the (simulated) cluster


def test_a_damaged_cached_file_fails_the_job_and_is_uploaded_anew(
        sim_home, tmp_path):
    service = RunService(sim_home)
    nb = make_notebook(tmp_path / "p" / "nb.ipynb", None, f"print('{tmp_path.name}')")

    def run() -> object:
        return service.wait(service.submit(SubmitRequest(str(nb), site=SITE)).id, timeout=300)

    first = run()
    assert first.state == "COMPLETED", (first.state, first.reason)
    listed = (Path(first.work_dir) / MANIFEST).read_bytes().split(b"\0")
    sha = dict(zip(listed[1::2], listed[0::2], strict=False))[b"nb.ipynb"].decode()
    cached = Path(service.backend(SITE).cache_dir()) / sha
    size = cached.stat().st_size
    cached.write_bytes(b"#" * size)  # half rewritten by another submission, say

    damaged = run()
    log = service.logs(damaged.id).data.decode()
    assert damaged.state == "FAILED", (damaged.state, damaged.reason, log)
    assert ("mantik: nb.ipynb from the upload cache is damaged (its sha256 differs); it was "
            "removed from the cache, submit again to upload it anew") in log, log
    assert not (Path(damaged.work_dir) / damaged.output_notebook).exists()  # never ran
    assert not cached.exists()

    again = run()
    assert again.state == "COMPLETED", (again.state, again.reason)
    assert cached.stat().st_size == size and b"#" * size != cached.read_bytes()
