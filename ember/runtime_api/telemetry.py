"""The Telemetry API (2022-07-01) of one environment: extensions subscribe to the platform,
function and extension streams; each subscriber gets its events in batches, POSTed as a
JSON array to its HTTP destination inside the environment, as Lambda sends them.

A subscription buffers events until `maxItems` or `maxBytes` is reached or `timeoutMs`
has passed since the first buffered one; one batch is in flight per subscriber at a time
(a frozen environment answers its POST once thawed). Past a hard cap the oldest events of
a subscriber are dropped and counted. Every delivery task is owned by `Telemetry` and
cancelled by `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ember.runtime_api.errors import ExtensionRejectedError, RequestRejectedError
from ember.runtime_api.extensions import Extensions
from ember.runtime_api.messages import Reply, Request
from ember.runtime_api.routing import Router

log = logging.getLogger("ember.telemetry")

PATH = "/2022-07-01/telemetry"
ID_HEADER = b"lambda-extension-identifier"
TYPES = frozenset({"platform", "function", "extension"})
# Lambda's buffering ranges and defaults: (minimum, maximum, default).
_MAX_ITEMS = (25, 10_000, 1_000)
_MAX_BYTES = (262_144, 104_857_600, 262_144)
_TIMEOUT_MS = (25, 30_000, 1_000)
_HARD_CAP = 20_000  # events buffered per subscriber before the oldest are dropped
OK = Reply(200, b"OK", b"Content-Type: text/plain\r\n")

# Opens a connection to (host, port) as seen from inside the environment.
Connector = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _loopback(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


@dataclasses.dataclass(slots=True)
class _Subscriber:
    name: str
    types: frozenset[str]
    max_items: int
    max_bytes: int
    timeout: float  # seconds
    host: str
    port: int
    path: str
    buffer: list[bytes] = dataclasses.field(default_factory=list)
    buffered_bytes: int = 0
    first_at: float = 0.0  # monotonic time of the oldest buffered event
    dropped: int = 0
    wake: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Telemetry:
    """Subscriptions and their deliveries, for one environment (loop thread only)."""

    def __init__(self, extensions: Extensions) -> None:
        self._extensions = extensions
        self._subscribers: dict[str, _Subscriber] = {}  # extension name -> subscription
        self._connect: Connector = _loopback
        self._replaced: set[asyncio.Task[None]] = set()  # cancelled, not yet finished
        # Told of each new subscription (the environment starts publishing then).
        self.on_subscribe: Callable[[str, list[str]], None] | None = None
        self.delivered = 0  # batches answered with 2xx

    def register(self, router: Router) -> None:
        router.add("PUT", PATH, self.subscribe)

    def set_connector(self, connect: Connector) -> None:
        """How to reach a destination (inside the environment's network namespace)."""
        self._connect = connect

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    # -- the API ------------------------------------------------------------------------

    def subscribe(self, request: Request, params: Mapping[str, str]) -> Reply:
        """PUT /2022-07-01/telemetry: subscribe (or re-subscribe) the calling extension."""
        extension_id = request.header(ID_HEADER)
        if not extension_id:
            raise ExtensionRejectedError(
                "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"
            )
        extension = self._extensions.find(extension_id, "Unknown extension " + extension_id)
        subscriber = _parse(extension.name, request.body)
        old = self._subscribers.pop(extension.name, None)
        if old is not None and old.task is not None:  # a new subscription replaces it
            old.task.cancel()
            self._replaced.add(old.task)
            old.task.add_done_callback(self._replaced.discard)
        self._subscribers[extension.name] = subscriber
        subscriber.task = asyncio.get_running_loop().create_task(
            self._deliver(subscriber), name=f"telemetry-{extension.name}"
        )
        if self.on_subscribe is not None:
            self.on_subscribe(extension.name, sorted(subscriber.types))
        return OK

    # -- events -------------------------------------------------------------------------

    def platform(self, kind: str, record: dict[str, Any]) -> None:
        self._publish("platform", {"time": _now(), "type": kind, "record": record})

    def function_lines(self, lines: list[str]) -> None:
        """Lines of the environment's output (Lambda tells function and extension output
        apart; Ember's processes share one pipe, so all of it is `function`)."""
        stamp = _now()
        for line in lines:
            self._publish("function", {"time": stamp, "type": "function", "record": _record(line)})

    def _publish(self, stream: str, event: dict[str, Any]) -> None:
        encoded: bytes | None = None
        for subscriber in self._subscribers.values():
            if stream not in subscriber.types:
                continue
            if encoded is None:
                encoded = json.dumps(event, separators=(",", ":")).encode()
            if not subscriber.buffer:
                subscriber.first_at = time.monotonic()
            subscriber.buffer.append(encoded)
            subscriber.buffered_bytes += len(encoded)
            if len(subscriber.buffer) > _HARD_CAP:
                gone = subscriber.buffer.pop(0)
                subscriber.buffered_bytes -= len(gone)
                subscriber.dropped += 1
            subscriber.wake.set()

    # -- delivery -----------------------------------------------------------------------

    async def _deliver(self, subscriber: _Subscriber) -> None:
        while True:
            await subscriber.wake.wait()
            subscriber.wake.clear()
            if not subscriber.buffer:
                continue
            full = (
                len(subscriber.buffer) >= subscriber.max_items
                or subscriber.buffered_bytes >= subscriber.max_bytes
            )
            if not full:
                remaining = subscriber.first_at + subscriber.timeout - time.monotonic()
                if remaining > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await self._until_full(subscriber)
            batch = _take(subscriber)
            await self._post(subscriber, batch)
            if subscriber.buffer:
                subscriber.wake.set()

    @staticmethod
    async def _until_full(subscriber: _Subscriber) -> None:
        while (
            len(subscriber.buffer) < subscriber.max_items
            and subscriber.buffered_bytes < subscriber.max_bytes
        ):
            await subscriber.wake.wait()
            subscriber.wake.clear()

    async def _post(self, subscriber: _Subscriber, batch: bytes) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await self._connect(subscriber.host, subscriber.port)
            head = (
                f"POST {subscriber.path} HTTP/1.1\r\nHost: {subscriber.host}:{subscriber.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(batch)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + batch)
            await writer.drain()
            # No limit while the environment is frozen: its answer comes once thawed.
            status = await reader.readline()
            if status.split(b" ")[1:2] and status.split(b" ")[1].startswith(b"2"):
                self.delivered += 1
        except (OSError, asyncio.IncompleteReadError) as exc:
            # Lambda drops a batch its destination does not take (after retries).
            log.debug("telemetry batch to %s not delivered: %s", subscriber.name, exc)
        finally:
            if writer is not None:
                writer.close()

    async def close(self) -> None:
        tasks = [s.task for s in self._subscribers.values() if s.task is not None]
        tasks += self._replaced
        self._subscribers.clear()
        for task in tasks:
            task.cancel()
        # Their CancelledErrors come back as results; a cancelled close() still raises.
        await asyncio.gather(*tasks, return_exceptions=True)


def _take(subscriber: _Subscriber) -> bytes:
    """Up to maxItems events of at most maxBytes (at least one), as one JSON array."""
    count = size = 0
    for item in subscriber.buffer:
        if count and (count >= subscriber.max_items or size + len(item) > subscriber.max_bytes):
            break
        count += 1
        size += len(item)
    items, subscriber.buffer = subscriber.buffer[:count], subscriber.buffer[count:]
    subscriber.buffered_bytes -= size
    if subscriber.buffer:
        subscriber.first_at = time.monotonic()
    return b"[" + b",".join(items) + b"]"


def _now() -> str:
    stamp = time.time()
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}Z"
    )


def _record(line: str) -> Any:
    """A JSON log line is its object (LogFormat JSON); any other line, its text."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    return line


class SubscriptionRejectedError(RequestRejectedError):
    """A subscription request Lambda would refuse."""

    status = 400
    error_type = "ValidationError"


def _invalid(message: str) -> SubscriptionRejectedError:
    return SubscriptionRejectedError(message)


def _parse(name: str, body: bytes) -> _Subscriber:
    """A subscription request, checked as Lambda checks it (400 ValidationError)."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        raise _invalid("Invalid JSON in subscription request") from None
    if not isinstance(doc, dict):
        raise _invalid("Invalid subscription request")
    types = doc.get("types")
    if not isinstance(types, list) or not types or not set(types) <= TYPES:
        raise _invalid("types must be a non-empty list of platform, function, extension")
    destination = doc.get("destination")
    if not isinstance(destination, dict) or destination.get("protocol") != "HTTP":
        raise _invalid("destination.protocol must be HTTP")
    uri = urlsplit(str(destination.get("URI", "")))
    if uri.scheme != "http" or not uri.hostname or uri.port is None:
        raise _invalid("destination.URI must be http://host:port")
    buffering = doc.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise _invalid("buffering must be an object")
    host = uri.hostname
    if host in ("sandbox.localdomain", "sandbox", "localhost"):
        host = "127.0.0.1"  # the environment's own address, inside its namespace
    return _Subscriber(
        name=name,
        types=frozenset(types),
        max_items=_bounded(buffering, "maxItems", _MAX_ITEMS),
        max_bytes=_bounded(buffering, "maxBytes", _MAX_BYTES),
        timeout=_bounded(buffering, "timeoutMs", _TIMEOUT_MS) / 1000,
        host=host,
        port=uri.port,
        path=uri.path or "/",
    )


def _bounded(buffering: Mapping[str, Any], key: str, limits: tuple[int, int, int]) -> int:
    value = buffering.get(key, limits[2])
    low, high, _ = limits
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid(f"buffering.{key} must be between {low} and {high}")
    return value
