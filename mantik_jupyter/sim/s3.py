"""The staging object store behind FirecREST's ``transfer/`` endpoints, S3-style (``/s3``).

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
from urllib.parse import quote, unquote, urlencode
from xml.sax.saxutils import escape, unescape

import tornado.web

from .files import Forbidden, confine, parse_range
from .server import SimHandler

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


class S3Handler(SimHandler):
    """``/s3/{bucket}/{key}``: presigned part PUT, complete POST, object GET and HEAD."""

    public = True  # a presigned URL is its own credential

    async def prepare(self) -> None:
        """Faults first (like every route), then the URL's signature and expiry."""
        await super().prepare()
        query = {k: v[-1].decode() for k, v in self.request.query_arguments.items()}
        self.query = query
        try:
            self.store.verify(self.request.method, unquote(self.request.path), query)
        except S3Error as exc:
            self.s3_fail(exc)

    def _request_summary(self) -> str:
        """What the access log shows: never the query, whose signature is a credential."""
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    @property
    def store(self) -> ObjectStore:
        """The site's object store."""
        return self.site.objects

    def fail(self, status: int, message: str) -> None:
        """Errors (injected faults too) as S3 answers them."""
        self.s3_fail(S3Error(status, CODES.get(status, "InternalError"), message))

    def s3_fail(self, error: S3Error) -> None:
        """Answer an S3 XML error document and stop handling the request."""
        self.set_status(error.status)
        self.set_header("Content-Type", "application/xml")
        body = (f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{error.code}</Code>"
                f"<Message>{escape(error.message)}</Message>"
                f"<Resource>{escape(self.request.path)}</Resource></Error>")
        self.finish("" if self.request.method == "HEAD" else body)
        raise tornado.web.Finish()

    def write_error(self, status_code: int, **kwargs: object) -> None:
        """Unexpected exceptions still answer S3's error format (never a traceback)."""
        self.set_header("Content-Type", "application/xml")
        self.finish(f"<Error><Code>InternalError</Code><Message>{escape(self._reason)}"
                    "</Message></Error>")

    def _call(self, fn, *args: object) -> object:
        try:
            return fn(*args)
        except S3Error as exc:
            self.s3_fail(exc)

    def put(self, bucket: str, key: str) -> None:
        """UploadPart: ``?partNumber=N&uploadId=U``; 200 with the part's ETag."""
        if "uploadId" not in self.query or "partNumber" not in self.query:
            self.fail(400, "Only multipart part uploads (partNumber and uploadId) are accepted")
        try:
            number = int(self.query["partNumber"])
        except ValueError:
            number = 0
        etag = self._call(self.store.put_part, self.query["uploadId"], bucket, key, number,
                          self.request.body)
        self.set_header("ETag", etag)
        self.finish()

    def post(self, bucket: str, key: str) -> None:
        """CompleteMultipartUpload: ``?uploadId=U`` with the parts' XML; 200 with the result."""
        if "uploadId" not in self.query:
            self.fail(400, "POST needs uploadId: only CompleteMultipartUpload is accepted")
        etag = self._call(self.store.complete, self.query["uploadId"], bucket, key,
                          self.request.body)
        self.set_header("Content-Type", "application/xml")
        self.finish(f"<?xml version='1.0' encoding='UTF-8'?>\n<CompleteMultipartUploadResult>"
                    f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>"
                    f"<ETag>{escape(etag)}</ETag></CompleteMultipartUploadResult>")

    def head(self, bucket: str, key: str) -> None:
        """HeadObject: size and nothing else (404 until the upload is complete)."""
        self.set_header("Content-Length", str(self._object(bucket, key).stat().st_size))
        self.finish()

    async def get(self, bucket: str, key: str) -> None:
        """GetObject, whole (200) or one ``Range: bytes=a-b`` (206 with Content-Range)."""
        path = self._object(bucket, key)
        size = path.stat().st_size
        start, end = 0, size - 1
        header = self.request.headers.get("Range")
        if header:
            try:
                start, last = parse_range(header, size)
            except ValueError:
                self.fail(400, f"Range {header!r} is not bytes=a-b, bytes=a- or bytes=-n")
            end = size - 1 if last is None else min(last, size - 1)
            if start >= size:
                self.set_header("Content-Range", f"bytes */{size}")
                self.s3_fail(S3Error(416, "InvalidRange", "The requested range is not "
                                     f"satisfiable: the object has {size} bytes"))
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(end - start + 1))
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(CHUNK, left))
                left -= len(chunk)
                self.write(chunk)
                await self.flush()
        self.finish()

    def _object(self, bucket: str, key: str) -> Path:
        path = self._call(self.store.object_path, bucket, key)
        if not path.is_file():
            self.s3_fail(S3Error(404, "NoSuchKey", "The specified key does not exist"))
        return path


def routes() -> list[tuple[str, type]]:
    """URL pattern of the object store."""
    return [(rf"{PREFIX}/([^/]+)/(.+)", S3Handler)]
