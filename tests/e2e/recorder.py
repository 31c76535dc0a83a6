"""A function that records every invocation it gets, and the collector it reports to, for
tests of asynchronous delivery.

Each environment of a recorder opens one connection to the `Collector` the test runs on
the host's 127.0.0.1 (at RECORD_HOST:RECORD_PORT: host.ember.internal from a sandbox,
whose server must be started with `--host-access <collector port>`) and, per
invocation, sends one JSON line (attempt time, request id, event, client context's custom
map, invoked ARN, function name), then waits for the collector's `ok`: the collector
stores the line before answering, so an invocation that got past its record is one the
collector holds. An event {"fail": true}
then raises (unless the function is a sink: FAIL_ON_FLAG=0, as a dead-letter function
receiving such an event must not). SLEEP_MS makes each invocation take that long first.

A relayed TCP port is the one way out of a sandboxed environment to the host (its root
is read-only, /tmp private, its network its own), so recorders run sandboxed like users'
functions. A server
killed with SIGKILL takes its environments down, perhaps half way through a line or with
an `ok` unread: the collector drops a line cut short and ends a connection on a reset,
counting both (`statistics()`); the invocation never saw its `ok`, so it runs again.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

from tests.e2e.apicalls import deploy
from tests.e2e.harness import function_host

RECORDER = """
import json, os, socket, time

_ADDRESS = (os.environ["RECORD_HOST"], int(os.environ["RECORD_PORT"]))
_CONNECTION = socket.create_connection(_ADDRESS)
_ANSWERS = _CONNECTION.makefile("rb")


def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP_MS", "0")) / 1000)
    custom = context.client_context.custom if context.client_context else None
    line = json.dumps({
        "t": time.time(),
        "function": context.function_name,
        "request_id": context.aws_request_id,
        "event": event,
        "custom": custom,
        "invoked_arn": context.invoked_function_arn,
    }) + "\\n"
    _CONNECTION.sendall(line.encode())
    if _ANSWERS.readline() != b"ok\\n":
        raise ConnectionError("the collector did not confirm the record")
    if os.environ["FAIL_ON_FLAG"] == "1" and isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("poison " + str(event.get("id")))
    return {"seen": event}
"""


# The start of a function that feeds itself (recursion tests): `_record(context, n)` sends
# one line per hop on a connection of its own and waits for the collector's `ok`.
_LOOP_START = """
import json, os, socket
import boto3

_ADDRESS = (os.environ["RECORD_HOST"], int(os.environ["RECORD_PORT"]))


def _record(context, n):
    line = json.dumps({"function": context.function_name, "n": n}) + "\\n"
    with socket.create_connection(_ADDRESS) as connection:
        connection.sendall(line.encode())
        connection.makefile("rb").readline()
"""

# Records each invocation, then sends the next number to its queue (QUEUE_URL) until it
# reaches LIMIT.
QUEUE_LOOPER = (
    _LOOP_START
    + """
_SQS = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        n = json.loads(record["body"])["n"]
        _record(context, n)
        if n + 1 < int(os.environ["LIMIT"]):
            body = json.dumps({"n": n + 1})
            _SQS.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=body)
"""
)

# The same through a topic (TOPIC_ARN) the function is subscribed to (SNS events).
TOPIC_LOOPER = (
    _LOOP_START
    + """
_SNS = boto3.client("sns")


def handler(event, context):
    n = json.loads(event["Records"][0]["Sns"]["Message"])["n"]
    _record(context, n)
    if n + 1 < int(os.environ["LIMIT"]):
        _SNS.publish(TopicArn=os.environ["TOPIC_ARN"], Message=json.dumps({"n": n + 1}))
"""
)


@dataclasses.dataclass(frozen=True)
class CollectorStatistics:
    connections: int  # environments that connected
    records: int  # complete lines stored
    torn: int  # lines cut short by a closed connection, dropped
    resets: int  # connections that ended in a reset or a failed `ok`


class Collector:
    """Every record the recorders sent, by function name, in the order they arrived."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._records: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self._garbled: list[bytes] = []  # complete lines that were not a record
        self._connections = self._torn = self._resets = 0

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def access(self) -> tuple[str, str]:
        """The `ember serve` flag that lets sandboxed recorders reach this collector."""
        return ("--host-access", str(self.port))

    def address(self) -> dict[str, str]:
        """The environment variables a recording function finds this collector by."""
        return {"RECORD_HOST": function_host(), "RECORD_PORT": str(self.port)}

    def records(self, name: str) -> list[dict[str, Any]]:
        """What the function `name` has recorded so far."""
        with self._lock:
            self._check()
            return list(self._records.get(name, ()))

    def count(self, *names: str) -> int:
        """How many records these functions have sent, without copying them."""
        with self._lock:
            self._check()
            return sum(len(self._records.get(name, ())) for name in names)

    def statistics(self) -> CollectorStatistics:
        with self._lock:
            stored = sum(len(lines) for lines in self._records.values())
            return CollectorStatistics(self._connections, stored, self._torn, self._resets)

    def _check(self) -> None:
        if self._garbled:
            first = self._garbled[0][:200]
            raise AssertionError(f"{len(self._garbled)} garbled records, the first: {first!r}")

    # -- what the connections report ----------------------------------------------------

    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    def _store(self, raw: bytes) -> bool:
        """Keep one complete line; False (and the line kept as garbled) if not a record."""
        try:
            record = json.loads(raw)
            name = record["function"]
        except (ValueError, TypeError, KeyError):
            with self._lock:
                self._garbled.append(raw)
            return False
        with self._lock:
            self._records[name].append(record)
        return True

    def _tore(self) -> None:
        with self._lock:
            self._torn += 1

    def _reset(self) -> None:
        with self._lock:
            self._resets += 1


class _Connection(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        collector = self.server.collector
        collector._connected()
        try:
            for raw in self.rfile:
                if not raw.endswith(b"\n"):
                    collector._tore()  # the sender died mid-line: the record never counted
                    return
                if not collector._store(raw):
                    return  # no `ok`, so the invocation fails; records() and count() raise
                self.wfile.write(b"ok\n")
        except OSError:
            collector._reset()  # a killed environment resets its connection


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    collector: Collector

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Connection)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def hang_up(self) -> None:
        """End the connections of environments still alive, so their threads finish."""
        with self._open_lock:
            for sock in self._open:
                # ENOTCONN: the environment has already closed it
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def running_collector() -> Iterator[Collector]:
    """A collector on an unused loopback port; its connection threads end with the block."""
    server = _Server()
    server.collector = Collector(server)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="collector", daemon=True
    )
    thread.start()
    try:
        yield server.collector
    finally:
        server.shutdown()
        thread.join()
        server.hang_up()
        server.server_close()  # joins the connection threads


def create_recorder(
    lam: Any,
    name: str,
    collector: Collector,
    sleep_ms: float = 0,
    *,
    sink: bool = False,
    **kwargs: Any,
) -> str:
    """Create a recording function (Active on return); returns its ARN. A `sink` records
    and succeeds whatever it gets."""
    variables = {
        **collector.address(),
        "SLEEP_MS": str(sleep_ms),
        "FAIL_ON_FLAG": "0" if sink else "1",
    }
    config = deploy(lam, name, {"app.py": RECORDER}, Environment={"Variables": variables}, **kwargs)
    arn: str = config["FunctionArn"]
    return arn


__all__ = [
    "QUEUE_LOOPER",
    "RECORDER",
    "TOPIC_LOOPER",
    "Collector",
    "CollectorStatistics",
    "create_recorder",
    "running_collector",
]
