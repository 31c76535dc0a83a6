"""What checking a SigV4 signature costs one request: `--auth sigv4`'s verifier on an
Invoke request that botocore signed (a 64-byte payload), timed in-process, beside the cost
of finding that an unsigned request is unsigned (all `--auth none` pays)."""

from __future__ import annotations

import os
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ember.protocols import sigv4

Row = tuple[str, str, str]
KEY, SECRET = "AKIDBENCH", "bench-secret"


def _signed_invoke() -> tuple[sigv4.SignedRequest, sigv4.SignedRequest]:
    url = "http://127.0.0.1:9001/2015-03-31/functions/bench/invocations"
    body = b'{"k":"' + b"v" * 56 + b'"}'
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY, SECRET), "lambda", "us-east-1").add_auth(request)
    parts = urllib.parse.urlsplit(url)
    headers = {k.lower(): str(v) for k, v in request.headers.items()}
    headers["host"] = parts.netloc
    signed = sigv4.SignedRequest("POST", parts.path.encode(), b"", headers, body)
    unsigned = sigv4.SignedRequest("POST", parts.path.encode(), b"", {"host": parts.netloc}, body)
    return signed, unsigned


def auth_rows() -> list[Row]:
    count = int(os.environ.get("BENCH_AUTH_ROUNDS", "5000"))
    signed, unsigned = _signed_invoke()
    now = time.time()
    start = time.process_time()
    for _ in range(count):
        signature = sigv4.parse_signature(signed)
        assert signature is not None
        sigv4.check_time(signature, now)
        sigv4.verify(signed, signature, SECRET, now)
    checked = (time.process_time() - start) / count * 1e6
    start = time.process_time()
    for _ in range(count):
        assert not sigv4.is_signed(unsigned)
    skipped = (time.process_time() - start) / count * 1e6
    return [
        ("SigV4 check per request (--auth sigv4), CPU", f"{checked:.1f} µs",
         f"an Invoke with a 64-byte body, botocore-signed; unsigned request under "
         f"--auth none: {skipped:.2f} µs; {count:,} each, in-process"),
    ]  # fmt: skip
