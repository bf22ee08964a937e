"""The staging object store behind FirecREST's ``transfer/`` endpoints: its files, presigned
URLs and multipart uploads (the HTTP side is :mod:`.s3`).

FirecREST hands out presigned URLs of an S3 store: multipart part PUTs (each answered with
an ``ETag``), a complete-multipart POST (the ``CompleteMultipartUpload`` XML of those
ETags), and object GET/HEAD. URLs carry an ``X-Amz-*`` signature and expiry the store
checks, so they work without credentials, only for their method and object, and only until
they expire. Errors are S3's XML ``<Error><Code>..</Code><Message>..</Message></Error>``.
Parts may be of any size (real S3 wants at least 5 MiB but for the last one): the simulator
uses small parts so that tests move several.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode
from xml.sax.saxutils import unescape

from .files import Forbidden, confine

PREFIX = "/s3"
CHUNK = 1024 * 1024
CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 405: "MethodNotAllowed",
         429: "SlowDown", 500: "InternalError", 503: "ServiceUnavailable"}


class S3Error(Exception):
    """An S3 error answer: HTTP status, S3 error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ObjectStore:
    """Buckets as folders under ``root/objects``, multipart uploads under ``root/uploads``,
    the transfer jobs' plans (they hold URLs) under ``root/plans``."""

    def __init__(self, root: Path, ttl: int):
        self.objects = root / "objects"
        self.uploads = root / "uploads"
        self.plans = root / "plans"
        for folder in (self.objects, self.uploads, self.plans):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ttl = ttl
        self._key = secrets.token_bytes(32)  # signs URLs; never leaves the process

    # -- presigned URLs ----------------------------------------------------------------------
    def presign(self, base_url: str, method: str, bucket: str, key: str, **params: str) -> str:
        """A URL that allows ``method`` on one object (or upload part) for ``ttl`` seconds."""
        path = f"{PREFIX}/{bucket}/{key}"
        query = {**params, "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                 "X-Amz-Credential": f"sim/{time.strftime('%Y%m%d', time.gmtime())}/sim/s3",
                 "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                 "X-Amz-Expires": str(self.ttl), "X-Amz-SignedHeaders": "host"}
        query["X-Amz-Signature"] = self._sign(method, path, query)
        return f"{base_url}{quote(path, safe='/~')}?{urlencode(query, quote_via=quote)}"

    def _sign(self, method: str, path: str, query: dict[str, str]) -> str:
        canonical = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}"
                             for k, v in sorted(query.items()) if k != "X-Amz-Signature")
        message = f"{method}\n{path}\n{canonical}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, method: str, path: str, query: dict[str, str]) -> None:
        """S3Error 403 unless the request carries this store's unexpired signature for it."""
        given = query.get("X-Amz-Signature")
        if not given:
            raise S3Error(403, "AccessDenied", "Query-string authentication is required: this "
                          "store only accepts presigned URLs")
        if not hmac.compare_digest(given, self._sign(method, path, query)):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature does not match: "
                          "the URL was altered or is used with another method")
        try:
            signed = time.mktime(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
            expires = int(query["X-Amz-Expires"])
        except (KeyError, ValueError):
            raise S3Error(403, "AccessDenied", "X-Amz-Date or X-Amz-Expires is malformed") from None
        if time.mktime(time.gmtime()) > signed + expires:
            raise S3Error(403, "AccessDenied", "Request has expired")

    # -- objects and multipart uploads -------------------------------------------------------
    def object_path(self, bucket: str, key: str) -> Path:
        """Where an object's bytes live (404 for a name that would leave the store)."""
        try:
            return confine(self.objects, f"{bucket}/{key}")
        except Forbidden:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist") from None

    def create_upload(self, bucket: str, key: str) -> str:
        """Start a multipart upload of ``bucket/key``; returns its upload id."""
        self.expire()
        upload_id = uuid.uuid4().hex
        folder = self.uploads / upload_id
        folder.mkdir(mode=0o700)
        (folder / "target.json").write_text(json.dumps({"bucket": bucket, "key": key}))
        return upload_id

    def _upload(self, upload_id: str, bucket: str, key: str) -> Path:
        folder = self.uploads / upload_id
        try:
            target = json.loads((folder / "target.json").read_text())
        except (OSError, ValueError):
            target = None
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id) or target != {"bucket": bucket, "key": key}:
            raise S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist: "
                          "it was completed, aborted or never started")
        return folder

    def put_part(self, upload_id: str, bucket: str, key: str, number: int, data: bytes) -> str:
        """Store one part; returns its ETag (the quoted MD5, as S3 does)."""
        if not 1 <= number <= 10000:
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and "
                          f"10000, not {number}")
        folder = self._upload(upload_id, bucket, key)
        (folder / f"{number}.part").write_bytes(data)
        return f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 - S3's ETag, not security

    def complete(self, upload_id: str, bucket: str, key: str, body: bytes) -> str:
        """Join the listed parts into the object; returns the object's ETag."""
        folder = self._upload(upload_id, bucket, key)
        text = body.decode(errors="replace")
        listed = [(int(_tag(part, "PartNumber") or 0), _tag(part, "ETag").strip('"'))
                  for part in re.findall(r"<Part>(.*?)</Part>", text, re.DOTALL)]
        if "<CompleteMultipartUpload" not in text or not listed or not all(n for n, _ in listed):
            raise S3Error(400, "MalformedXML", "The XML is not a CompleteMultipartUpload with at "
                          "least one Part (PartNumber and ETag)")
        numbers = [n for n, _ in listed]
        if numbers != sorted(set(numbers)):
            raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order "
                          f"without repeats: {numbers}")
        digests = []
        for number, etag in listed:
            part = folder / f"{number}.part"
            digest = (hashlib.md5(part.read_bytes()).hexdigest()  # noqa: S324 - S3's ETag
                      if part.exists() else None)
            if digest != etag:
                raise S3Error(400, "InvalidPart", f"Part {number} was not uploaded or its ETag "
                              f"does not match ({etag!r})")
            digests.append(bytes.fromhex(digest))
        target = self.object_path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        with open(partial, "wb") as out:
            for number in numbers:
                with open(folder / f"{number}.part", "rb") as part:
                    shutil.copyfileobj(part, out, CHUNK)
        os.replace(partial, target)
        shutil.rmtree(folder)
        whole = hashlib.md5(b"".join(digests)).hexdigest()  # noqa: S324 - S3's ETag
        return f'"{whole}-{len(digests)}"'

    def write_plan(self, plan: dict) -> Path:
        """Keep a transfer job's plan owner-only (the job deletes it once read)."""
        path = self.plans / f"{uuid.uuid4().hex}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(plan, fh)
        return path

    def expire(self) -> None:
        """Lifecycle rule: objects and uploads older than the URL lifetime are deleted (no URL
        can reach them any more)."""
        cutoff = time.time() - self.ttl
        for folder in (self.uploads, self.plans, *self.objects.iterdir()):
            for entry in folder.iterdir():
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _tag(xml: str, name: str) -> str:
    """The text of the first ``<name>`` element in an XML fragment ('' if none)."""
    found = re.search(rf"<{name}>\s*([^<]*?)\s*</{name}>", xml)
    return unescape(found.group(1), {"&quot;": "\""}) if found else ""
