"""A small HTTP client for the Lambda API (stdlib only, so the CLI starts fast; botocore
signs requests only when credentials are set)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

# (bytes sent so far, bytes in all): a request body's upload progress
Progress = Callable[[int, int], None]


class ApiError(Exception):
    """What the server answered with an error, or that it could not be reached."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


class LambdaClient:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        # Signed as the AWS CLI signs (for `ember serve --auth sigv4`) when the usual
        # variables hold a key, e.g. one from `ember keys create`.
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        self._credentials = (
            (key, secret, os.environ.get("AWS_SESSION_TOKEN")) if key and secret else None
        )
        self._region = (
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )

    def _sign(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        if self._credentials is None:
            return headers
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        # Lambda's REST API; CloudWatch's (GraniteServiceVersion20100801.*) or Logs' targets.
        target = headers.get("x-amz-target", "")
        service = "monitoring" if target.startswith("Granite") else "logs" if target else "lambda"
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(Credentials(*self._credentials), service, self._region).add_auth(request)
        return dict(request.headers.items())

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        progress: Progress | None = None,
    ) -> Response:
        url = self.endpoint + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        signed = self._sign(method, url, body, headers or {})
        data: Any = body
        if progress is not None and body:
            data = _Upload(body, progress)  # read by http.client in blocks as it sends
            signed["Content-Length"] = str(len(body))
        req = urllib.request.Request(url, data=data, method=method, headers=signed)
        try:
            with urllib.request.urlopen(req, timeout=960) as resp:
                return Response(
                    resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
                )
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = {}
            code = exc.headers.get("x-amzn-errortype") or doc.get("__type") or str(exc.code)
            message = doc.get("Message") or doc.get("message") or payload.decode(errors="replace")
            raise ApiError(code, message) from None
        except urllib.error.URLError as exc:
            raise ApiError(
                "ConnectionError",
                f"cannot reach Ember at {self.endpoint} ({exc.reason}); is `ember serve` running?",
            ) from None

    def call(self, method: str, path: str, doc: Any = None, **kw: Any) -> Any:
        body = None if doc is None else json.dumps(doc).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        return self.request(method, path, body, headers, **kw).json()

    def logs(self, operation: str, params: dict[str, Any]) -> Any:
        headers = {
            "x-amz-target": f"Logs_20140328.{operation}",
            "content-type": "application/x-amz-json-1.1",
        }
        return self.request("POST", "/", json.dumps(params).encode(), headers).json()


class _Upload:
    """A request body that reports how much of it was read (= sent)."""

    def __init__(self, body: bytes, progress: Progress) -> None:
        self._body = memoryview(body)
        self._sent = 0
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        end = len(self._body) if size < 0 else self._sent + size
        chunk = bytes(self._body[self._sent : end])
        self._sent += len(chunk)
        if chunk:
            self._progress(self._sent, len(self._body))
        return chunk
