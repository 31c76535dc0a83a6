"""What functions fed by event source mappings processed, as they report it over TCP.

The functions built from `REPORTING_HANDLER` send one JSON line per batch (the function's
name and the batch's records) to a `Reports` listener the test runs on the host's
127.0.0.1, reached as `function_host()` (the server needs `--host-access PORT`). Effects
are observed from outside: nothing here reads Ember's own counters.
"""

from __future__ import annotations

import collections
import itertools
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.e2e.harness import function_host, wait_until

# The start of a reporting handler: `_send(doc)` sends one JSON line over one connection
# per environment, kept open across invocations (cheap enough for 10,000 messages); MODE
# (a variable) says how the handler fails.
_REPORTING_START = """\
import base64
import json
import os
import socket
import time

_ADDRESS = (os.environ["REPORT_HOST"], int(os.environ["REPORT_PORT"]))
_MODE = os.environ.get("MODE", "ok")
_CONN = []


def _send(doc):
    if not _CONN:
        _CONN.append(socket.create_connection(_ADDRESS))
    _CONN[0].sendall((json.dumps(doc) + "\\n").encode())

"""

# SQS batches. MODE: ok; fail: raise when a body starts with "fail"; partial: report the
# records whose body starts with "bad" in batchItemFailures. `{"sleep": s}` (a direct
# invoke) holds an environment for s seconds.
REPORTING_HANDLER = (
    _REPORTING_START
    + """
def handler(event, context):
    if "sleep" in event:  # a direct invoke that holds an environment
        time.sleep(event["sleep"])
        return {}
    records = event["Records"]
    _send({"fn": context.function_name, "records": records})
    if _MODE == "fail" and any(r["body"].startswith("fail") for r in records):
        raise RuntimeError("failing on purpose")
    if _MODE == "partial":
        failed = [r["messageId"] for r in records if r["body"].startswith("bad")]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
    return {"processed": len(records)}
"""
)

# Kinesis batches, each record's data decoded into "body" and the handler's clock at entry
# as "at". MODE: ok; fail: raise when a record's data starts with "fail"; partial: report
# the records whose data starts with "bad" in batchItemFailures (by sequence number).
KINESIS_HANDLER = (
    _REPORTING_START
    + """
def handler(event, context):
    records = event["Records"]
    now = time.time()  # batches reach the host over one connection per environment: the
    for r in records:  # listener may read two environments' lines out of order
        r["body"] = base64.b64decode(r["kinesis"]["data"]).decode()
        r["at"] = now
    _send({"fn": context.function_name, "records": records})
    if _MODE == "fail" and any(r["body"].startswith("fail") for r in records):
        raise RuntimeError("failing on purpose")
    if _MODE == "partial":
        failed = [r["kinesis"]["sequenceNumber"] for r in records if r["body"].startswith("bad")]
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
    return {"processed": len(records)}
"""
)

_counter = itertools.count()


def unique_name(prefix: str) -> str:
    """A function, queue or stream name no other test of the run uses."""
    return f"{prefix}-{next(_counter)}-{int(time.time() * 1000) % 100_000}"


class Reports:
    """Batches reported so far, per function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: dict[str, list[list[dict[str, Any]]]] = collections.defaultdict(list)

    def add(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self._batches[doc["fn"]].append(doc["records"])

    def batches(self, function: str) -> list[list[dict[str, Any]]]:
        with self._lock:
            return list(self._batches[function])

    def records(self, function: str) -> list[dict[str, Any]]:
        return [r for batch in self.batches(function) for r in batch]

    def bodies(self, function: str) -> list[str]:
        return [r["body"] for r in self.records(function)]

    def wait_bodies(self, function: str, wanted: set[str], limit: float = 30.0) -> None:
        wait_until(lambda: wanted <= set(self.bodies(function)), limit=limit, interval=0.1)


@contextmanager
def listening(port: int) -> Iterator[Reports]:
    reports = Reports()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                if line.strip():
                    reports.add(json.loads(line))

    class Listener(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    with Listener(("127.0.0.1", port), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, name="reports", daemon=True)
        thread.start()
        try:
            yield reports
        finally:
            server.shutdown()
            thread.join()


def variables(port: int, mode: str = "ok") -> dict[str, Any]:
    return {"Variables": {"REPORT_HOST": function_host(), "REPORT_PORT": str(port), "MODE": mode}}
