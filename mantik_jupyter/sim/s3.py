"""The HTTP side (``/s3``) of the staging object store behind FirecREST's ``transfer/``
endpoints (the store is :mod:`.s3store`): presigned part PUTs answered with an ``ETag``, a
complete-multipart POST, object GET/HEAD; errors are S3's XML
``<Error><Code>..</Code><Message>..</Message></Error>``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote
from xml.sax.saxutils import escape

import tornado.web

from .files import parse_range
from .s3store import CHUNK, CODES, PREFIX, ObjectStore, S3Error
from .server import StreamedBody


class S3Handler(StreamedBody):
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
                          self.received())
        self.set_header("ETag", etag)
        self.finish()

    def post(self, bucket: str, key: str) -> None:
        """CompleteMultipartUpload: ``?uploadId=U`` with the parts' XML; 200 with the result."""
        if "uploadId" not in self.query:
            self.fail(400, "POST needs uploadId: only CompleteMultipartUpload is accepted")
        etag = self._call(self.store.complete, self.query["uploadId"], bucket, key,
                          self.received())
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
