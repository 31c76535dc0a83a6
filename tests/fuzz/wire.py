"""Raw HTTP to one `ember serve`, and what every answer must look like."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import Server


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Wire:
    """A keep-alive connection to the server, reopened after the server closes it."""

    server: Server
    sent: int = 0  # requests answered, for the report
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        for attempt in range(2):
            conn = self._conn or http.client.HTTPConnection("127.0.0.1", self.server.port, 60)
            self._conn = conn
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in {"content-type": "application/json", **(headers or {})}.items():
                    conn.putheader(name, value)
                conn.putheader("content-length", str(len(body or b"")))
                conn.endheaders(body or b"")
                response = conn.getresponse()
                answer = Answer(
                    response.status,
                    {k.lower(): v for k, v in response.getheaders()},
                    response.read(),
                )
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt or self.server.process.poll() is not None:
                    raise
                continue  # a keep-alive connection the server had closed: once more
            if answer.headers.get("connection", "").lower() == "close":
                self.close()
            self.sent += 1
            return answer
        raise AssertionError("unreachable")

    def json(self, method: str, path: str) -> Any:
        answer = self.request(method, path)
        assert answer.status == 200, (path, answer)
        return json.loads(answer.body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def assert_aws_error(answer: Answer, context: object) -> dict[str, Any]:
    """A 4xx in AWS's rest-json error shape; never a 5xx, never a traceback."""
    assert answer.status < 500, (context, answer)
    assert answer.status >= 400, (context, answer)
    assert b"Traceback" not in answer.body, (context, answer)
    assert answer.headers.get("x-amzn-errortype"), (context, answer)
    assert answer.headers.get("x-amzn-requestid"), (context, answer)
    document = json.loads(answer.body)
    assert isinstance(document, dict), (context, answer)
    message = document.get("message", document.get("Message"))
    assert isinstance(message, str), (context, answer)
    return document


def listing(wire: Wire) -> Any:
    """Every function version and layer as the API lists them."""
    functions = _pages(wire, "/2015-03-31/functions/?FunctionVersion=ALL", "Functions")
    layers = _pages(wire, "/2018-10-31/layers", "Layers")
    return {"functions": functions, "layers": layers}


def settle(wire: Wire) -> None:
    """Until no function is still being created or updated (ListFunctions does not show
    their state, as on AWS: each one's configuration does)."""
    deadline = time.monotonic() + 60
    for function in _pages(wire, "/2015-03-31/functions/", "Functions"):
        path = "/2015-03-31/functions/{}/configuration".format(function["FunctionName"])
        while time.monotonic() < deadline:
            config = wire.json("GET", path)
            if config.get("State") != "Pending" and config.get("LastUpdateStatus") != "InProgress":
                break
            time.sleep(0.02)
        # An accepted change must not leave a function broken by a fault of Ember's.
        assert config.get("State") != "Failed", config
        assert config.get("LastUpdateStatus") != "Failed", config


def _pages(wire: Wire, path: str, key: str) -> list[Any]:
    items: list[Any] = []
    marker = None
    while True:
        sep = "&" if "?" in path else "?"
        page = wire.json("GET", path + (f"{sep}Marker={marker}" if marker else ""))
        items.extend(page[key])
        marker = page.get("NextMarker")
        if not marker:
            return items


def stored(data_dir: Path) -> set[Path]:
    """Every blob, unpacked function and unpacked layer on disk."""
    return {p for d in ("blobs", "code", "layers") for p in (data_dir / d).rglob("*")}


@contextlib.contextmanager
def unchanged_unless_ok(wire: Wire, context: object) -> Iterator[list[Answer]]:
    """Yield a list for the answer; if it is an error, the listing must be as before."""
    before = listing(wire)
    answers: list[Answer] = []
    yield answers
    (answer,) = answers
    if answer.status < 400:
        settle(wire)  # so that the next request's listing is not caught mid-change
    else:
        after = listing(wire)
        assert after == before, (context, _difference(before, after))


def _difference(before: Any, after: Any) -> list[str]:
    """What changed between two listings, short enough to read."""
    changes = []
    old = {f["FunctionArn"]: f for f in before["functions"]}
    new = {f["FunctionArn"]: f for f in after["functions"]}
    for arn in sorted(old.keys() | new.keys()):
        a, b = old.get(arn, {}), new.get(arn, {})
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                changes.append(f"{arn} {key}: {a.get(key)!r:.80} -> {b.get(key)!r:.80}")
    if before["layers"] != after["layers"]:
        changes.append("layers changed")
    return changes
