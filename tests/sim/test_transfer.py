"""FirecREST's ``transfer/`` endpoints, the staging object store and the transfer jobs on Slurm,
driven by the real pyfirecrest client and checked against the vendored OpenAPI spec."""

from __future__ import annotations

import calendar
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from firecrest.FirecrestException import MultipartUploadException
from simtools import token

MiB = 1024 * 1024


def test_large_files_round_trip_through_transfer_jobs(fc, spec, home_dir, tmp_path):
    system = next(s for s in fc.systems() if s["name"] == "daint-sim")
    assert system["dataOperation"]["max_ops_file_size"] == MiB
    fc.MAX_DIRECT_UPLOAD_SIZE = MiB + 1  # what the system allows, as the backend sets it
    workdir = home_dir("transfer")
    data = os.urandom(int(2.5 * MiB))  # three parts, the last one short
    local = tmp_path / "big.bin"
    local.write_bytes(data)

    # not blocking: pyfirecrest's own wait reads the job's log with a bare ops/view, which
    # CSCS's server (and so the simulator) refuses on a 1 MiB system
    upload = fc.upload("daint-sim", str(local), workdir, "big.bin", blocking=False)
    directives = upload.transfer_data["transferDirectives"]
    assert (directives["maxPartSize"], len(directives["partsUploadUrls"])) == (MiB, 3)
    upload.upload_file_to_stage()
    job = fc.wait_for_job("daint-sim", upload.transfer_data["transferJob"]["jobId"])[0]
    assert (job["name"], job["status"]["state"]) == ("IngressFileTransfer", "COMPLETED")
    assert Path(workdir, "big.bin").read_bytes() == data

    back = tmp_path / "back.bin"
    download = fc.download("daint-sim", f"{workdir}/big.bin", str(back), blocking=False)
    job = fc.wait_for_job("daint-sim", download.transfer_data["transferJob"]["jobId"])[0]
    assert (job["name"], job["status"]["state"]) == ("OutgressFileTransfer", "COMPLETED")
    download.download_file_from_stage()
    assert back.read_bytes() == data
    metadata = fc.job_metadata("daint-sim", job["jobId"])[0]
    assert "X-Amz" not in metadata["script"], "the presigned URLs stay out of the job script"

    exactly = tmp_path / "limit.bin"
    exactly.write_bytes(data[:MiB])  # the limit itself still goes through ops/upload
    assert fc.upload("daint-sim", str(exactly), workdir, "limit.bin") is None
    assert spec.operations >= {  # each answer above was checked against the spec
        "GET /status/systems", "POST /filesystem/{system_name}/transfer/upload",
        "GET /compute/{system_name}/jobs/{job_id}",
        "POST /filesystem/{system_name}/transfer/download",
        "GET /compute/{system_name}/jobs/{job_id}/metadata",
        "POST /filesystem/{system_name}/ops/upload"}


def test_an_upload_that_never_arrives_fails_its_transfer_job(sim, fc, home_dir, tmp_path):
    """The job waits for the object while the URLs are valid, then fails saying why."""
    local = tmp_path / "big.bin"
    local.write_bytes(b"x" * (2 * MiB))
    sim.site.objects.ttl = 1
    try:
        pending = fc.upload("daint-sim", str(local), home_dir("never"), "big.bin",
                            blocking=False)
    finally:
        sim.site.objects.ttl = sim.config.url_ttl
    job = fc.wait_for_job("daint-sim", pending.transfer_data["transferJob"]["jobId"])[0]
    assert job["status"]["state"] == "FAILED"
    error_log = pending.transfer_data["transferJob"]["logs"]["errorLog"]
    assert "not uploaded to the staging area before its URLs expired" in \
        Path(error_log).read_text()
    # S3 dates are whole seconds: a URL is refused once the clock is a whole second past its
    # expiry, which the job (waiting one second from its own start) may not have reached
    url = pending.transfer_data["transferDirectives"]["partsUploadUrls"][0]
    signed = parse_qs(urlsplit(url).query)
    expiry = calendar.timegm(time.strptime(signed["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) + int(
        signed["X-Amz-Expires"][0])
    while time.time() < expiry + 1:
        time.sleep(0.1)
    with pytest.raises(MultipartUploadException, match="Failed to upload part 1: 403"):
        pending.upload_file_to_stage()  # its URLs have expired meanwhile


def api(sim, spec, method: str, path: str, **kwargs) -> httpx.Response:
    """One spec-checked FirecREST request with a fresh token."""
    resp = httpx.request(method, sim.firecrest_url + path,
                         headers={"Authorization": f"Bearer {token(sim)}"}, **kwargs)
    spec.check(method, str(resp.url), resp.status_code, resp.headers.get("content-type", ""),
               resp.content)
    return resp


def test_bad_transfer_requests_get_the_apis_errors(sim, spec, home_dir):
    workdir = home_dir("bad")
    upload, download = "/filesystem/daint-sim/transfer/upload", \
        "/filesystem/daint-sim/transfer/download"
    s3 = {"transferMethod": "s3", "fileSize": 5}
    cases = [
        (upload, {"transferDirectives": s3}, 422, "sourcePath: field required"),
        (upload, {"path": f"{workdir}/f"}, 422, "transferDirectives: field required"),
        (upload, {"path": f"{workdir}/f", "transferDirectives": {"transferMethod": "ftp"}}, 422,
         "'ftp' is not one of s3, wormhole, streamer"),
        (upload, {"path": f"{workdir}/f", "transferDirectives": {"transferMethod": "wormhole"}},
         400, "Requested transfer method is not available"),
        (upload, {"path": f"{workdir}/f", "transferDirectives": {"transferMethod": "s3"}}, 422,
         "fileSize: the file's size in bytes"),
        (upload, {"path": "/etc/passwd", "transferDirectives": s3}, 403, "Permission denied"),
        (download, {"sourcePath": f"{workdir}/missing", "transferDirectives": s3}, 404,
         "No such file or directory"),
        (download, {"source_path": workdir, "transfer_directives": s3}, 400, "Is a directory"),
    ]
    for path, body, status, message in cases:
        resp = api(sim, spec, "POST", path, json=body)
        assert (resp.status_code, message in resp.json()["message"]) == (status, True), \
            (body, resp.text)
    assert resp.json()["errorType"] == "error"
    assert api(sim, spec, "POST", upload, json={}).json()["errorType"] == "validation"

    ops = f"/filesystem/daint-sim/ops/upload?path={workdir}"
    too_big = api(sim, spec, "POST", ops, files={"file": ("f", b"x" * (MiB + 1))})
    assert too_big.status_code == 413 and "use transfer/upload" in too_big.json()["message"]


def test_object_store_checks_signatures_parts_and_order(sim, spec, fc, home_dir):
    workdir = home_dir("store")
    created = api(sim, spec, "POST", "/filesystem/daint-sim/transfer/upload", json={
        "path": f"{workdir}/joined.bin",
        "transfer_directives": {"transfer_method": "s3", "file_size": MiB + 3}}).json()
    parts = created["transferDirectives"]["partsUploadUrls"]
    complete = created["transferDirectives"]["completeUploadUrl"]
    assert len(parts) == 2

    tampered = re.sub(r"partNumber=1", "partNumber=2", parts[0])
    refused = httpx.put(tampered, content=b"x")
    assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text
    assert httpx.get(parts[0]).status_code == 403  # a PUT URL allows nothing else
    unsigned = httpx.put(parts[0].split("?")[0] + "?partNumber=1&uploadId=x", content=b"x")
    assert "<Code>AccessDenied</Code>" in unsigned.text

    etags = [httpx.put(url, content=chunk).headers["ETag"]
             for url, chunk in zip(parts, (b"a" * MiB, b"bcd"), strict=True)]

    def completion(*pairs: tuple[int, str]) -> httpx.Response:
        xml = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
                      for n, e in pairs)
        return httpx.post(complete, content=f"<CompleteMultipartUpload>{xml}"
                                            "</CompleteMultipartUpload>")

    assert "<Code>InvalidPart</Code>" in completion((1, etags[0]), (2, '"0"')).text
    assert "<Code>InvalidPartOrder</Code>" in completion((2, etags[1]), (1, etags[0])).text
    assert "<Code>MalformedXML</Code>" in httpx.post(complete, content=b"<nothing/>").text
    assert completion((1, etags[0]), (2, etags[1])).status_code == 200
    assert "<Code>NoSuchUpload</Code>" in completion((1, etags[0]), (2, etags[1])).text

    fc.wait_for_job("daint-sim", created["transferJob"]["jobId"])
    assert Path(workdir, "joined.bin").read_bytes() == b"a" * MiB + b"bcd"

    out = fc.download("daint-sim", f"{workdir}/joined.bin", "unused", blocking=False)
    fc.wait_for_job("daint-sim", out.transfer_data["transferJob"]["jobId"])
    url = out.transfer_data["transferDirectives"]["downloadUrl"]
    ranged = httpx.get(url, headers={"Range": "bytes=1048575-1048577"})
    assert (ranged.status_code, ranged.content) == (206, b"abc")
    assert ranged.headers["Content-Range"] == f"bytes 1048575-1048577/{MiB + 3}"
    assert httpx.head(url).status_code == 403  # signed for GET only, as S3 signs
    assert httpx.get(url, headers={"Range": f"bytes={MiB + 3}-"}).status_code == 416
