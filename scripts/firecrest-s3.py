"""The S3 store of scripts/firecrest-up: moto's server, run with the FirecREST server's venv.

Usage: python firecrest-s3.py PORT (loopback only).

One shim: the server's cluster-side upload job completes a multipart upload with
``curl -d <xml>``, which labels the XML ``application/x-www-form-urlencoded``. S3 reads the
body whatever its type; moto's werkzeug app parses it as a form and answers 500. The
complete request's body is marked as XML before moto sees it.
"""

import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

moto = DomainDispatcherApplication(create_backend_app)


def app(environ, start_response):
    """moto, with a form-labelled multipart-complete body marked as the XML it is."""
    if environ.get("REQUEST_METHOD") == "POST" and "uploadId=" in environ.get("QUERY_STRING", ""):
        environ["CONTENT_TYPE"] = "application/xml"
    return moto(environ, start_response)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True,
               request_handler=MotoRequestHandler)
