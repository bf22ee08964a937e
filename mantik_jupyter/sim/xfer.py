"""The data-transfer job of the simulated FirecREST (``python -m mantik_jupyter.sim.xfer PLAN``).

It runs as a batch job, like FirecREST's own transfer jobs, and moves one file between the
staging object store and the cluster's file system through presigned URLs:

- ``ingress`` (a user's upload): wait until the object exists (HEAD), then GET it in ranges
  into the target file, which appears complete or not at all;
- ``egress`` (a user's download): PUT the file in parts, then complete the multipart upload.

The plan (a JSON file holding the URLs) is owner-only, outside the user's folders, and
deleted once read, so the URLs are in no job script or log. On success the output log says
"File was successfully ..." (what FirecREST clients look for); on failure the error log says
what went wrong and the job exits non-zero.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import unescape

POLL = 0.2
TIMEOUT = 60
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
BINARY = {"Content-Type": "application/octet-stream"}


class TransferError(Exception):
    """The transfer cannot go on (the message is for the user)."""


def request(method: str, url: str, data: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """One HTTP request: (status, headers (case-insensitive), body); an error status is
    returned, not raised."""
    req = urllib.request.Request(  # noqa: S310 - presigned http URLs of the object store
        url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - presigned
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()
    except OSError as exc:
        raise TransferError(f"the object store cannot be reached: {exc}") from None


def s3_message(body: bytes) -> str:
    """``Code: Message`` of an S3 XML error body (or the body's start)."""
    text = body.decode(errors="replace")
    found = re.search(r"<Code>(.*?)</Code>\s*<Message>(.*?)</Message>", text, re.DOTALL)
    return f"{found.group(1)}: {unescape(found.group(2))}" if found else text[:200]


def ingress(plan: dict) -> int:
    """Object store -> file system; returns the bytes written."""
    target = Path(plan["target"])
    if not target.parent.is_dir():
        raise TransferError(f"cannot write {target}: No such file or directory")
    deadline = time.time() + plan["wait"]
    print(f"{time.ctime()} waiting for the file in the staging area", flush=True)
    while True:
        status, _, body = request("HEAD", plan["head_url"])
        if status == 200:
            break
        if status == 403 or time.time() > deadline:
            raise TransferError("the file was not uploaded to the staging area before its URLs "
                                f"expired (HEAD answered {status})")
        if status != 404:
            raise TransferError(f"the staging area answered {status} to HEAD")
        time.sleep(POLL)
    partial = target.with_name(f".{target.name}.xfer-{os.getpid()}")
    written = 0
    try:
        with open(partial, "wb") as out:
            while True:
                last = written + plan["part_size"] - 1
                status, headers, body = request("GET", plan["get_url"],
                                                headers={"Range": f"bytes={written}-{last}"})
                if status == 416:
                    break
                if status not in (200, 206):
                    raise TransferError(f"reading the staged file from byte {written} failed "
                                        f"({status} {s3_message(body)})")
                out.write(body)
                written += len(body)
                total = int(headers.get("Content-Range", "/0").rsplit("/", 1)[1] or 0)
                if status == 200 or written >= total:
                    break
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    print(f"{time.ctime()} File was successfully downloaded to {target} ({written} bytes)")
    return written


def egress(plan: dict) -> int:
    """File system -> object store in parts; returns the bytes sent."""
    source = Path(plan["source"])
    if not source.is_file():
        raise TransferError(f"cannot read {source}: No such file or directory")
    root = ElementTree.Element("CompleteMultipartUpload", xmlns=XMLNS)
    sent = 0
    with open(source, "rb") as fh:
        for number, url in enumerate(plan["part_urls"], start=1):
            data = fh.read(plan["part_size"])
            status, headers, body = request("PUT", url, data=data, headers=BINARY)
            if status != 200 or not headers.get("ETag"):
                raise TransferError(f"the staging area refused part {number} of "
                                    f"{len(plan['part_urls'])} ({status} {s3_message(body)})")
            part = ElementTree.SubElement(root, "Part")
            ElementTree.SubElement(part, "PartNumber").text = str(number)
            ElementTree.SubElement(part, "ETag").text = headers["ETag"]
            sent += len(data)
            print(f"part {number} uploaded ({len(data)} bytes)", flush=True)
    status, _, body = request("POST", plan["complete_url"], data=ElementTree.tostring(root),
                              headers={"Content-Type": "application/xml"})
    if status != 200:
        raise TransferError(f"completing the upload failed ({status} {s3_message(body)})")
    print(f"{time.ctime()} File was successfully uploaded to the staging area ({sent} bytes)")
    return sent


def main(argv: list[str]) -> int:
    """Run the plan named on the command line; 0 on success, 1 with a message on failure."""
    plan_file = Path(argv[1])
    plan = json.loads(plan_file.read_text())
    plan_file.unlink()
    print(f"{time.ctime()} {plan['direction']} file transfer job "
          f"{os.environ.get('SLURM_JOB_ID', '')}".rstrip(), flush=True)
    try:
        (ingress if plan["direction"] == "ingress" else egress)(plan)
    except (TransferError, OSError) as exc:
        print(f"transfer failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
