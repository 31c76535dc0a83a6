"""StartLiveTail: CloudWatch Logs' live tail, an event stream (`sessionStart`, then a
`sessionUpdate` every second with the events written since) for up to three hours or
until the client goes.

JSON 1.1 event streams open with an `initial-response` event (botocore's parser wants it
first). botocore sends this operation to a `stream-` host prefix, which no local name
resolves: clients pass `Config(inject_host_prefix=False)`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import StreamingResponse

from ember.api.logchecks import LogsError, not_found
from ember.protocols.eventstream import CONTENT_TYPE as EVENT_STREAM
from ember.protocols.eventstream import encode_event
from ember.telemetry import LogStore

_JSON = "application/json"
_INTERVAL = 1.0  # seconds between sessionUpdate events, as CloudWatch sends them
_SESSION = 3 * 3600.0  # CloudWatch ends a session after three hours
_PER_UPDATE = 500  # events in one update; past it CloudWatch samples (`sampled` true)
_READ_BYTES = 1 << 20


def _group_name(identifier: str) -> str:
    """A log group's name from its name or ARN (arn:aws:logs:…:log-group:NAME[:*])."""
    if identifier.startswith("arn:"):
        name = identifier.split(":log-group:", 1)[-1]
        return name.removesuffix(":*")
    return identifier


def _strings(params: dict[str, Any], member: str, most: int) -> list[str] | None:
    value = params.get(member)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise LogsError("SerializationException", f"{member} must be a list of strings")
    if not 1 <= len(value) <= most:
        raise LogsError(
            "InvalidParameterException", f"{member} must hold between 1 and {most} items"
        )
    return value


def start_live_tail(logs: LogStore, params: dict[str, Any], request_id: str) -> StreamingResponse:
    identifiers = _strings(params, "logGroupIdentifiers", 10)
    if identifiers is None:
        raise LogsError(
            "InvalidParameterException",
            "1 validation error detected: Value null at 'logGroupIdentifiers' failed to "
            "satisfy constraint: Member must not be null",
        )
    groups = {identifier: _group_name(identifier) for identifier in identifiers}
    for name in groups.values():
        if not logs.has_group(name):
            raise not_found("log group")
    names = _strings(params, "logStreamNames", 100)
    prefixes = _strings(params, "logStreamNamePrefixes", 100)
    if names is not None and prefixes is not None:
        raise LogsError(
            "InvalidParameterException",
            "logStreamNames and logStreamNamePrefixes cannot both be specified",
        )
    pattern = str(params.get("logEventFilterPattern") or "").strip().strip('"')
    start: dict[str, Any] = {
        "requestId": request_id,
        "sessionId": str(uuid.uuid4()),
        "logGroupIdentifiers": identifiers,
    }
    for member, value in (
        ("logStreamNames", names),
        ("logStreamNamePrefixes", prefixes),
        ("logEventFilterPattern", pattern or None),
    ):
        if value is not None:
            start[member] = value
    session = _Session(logs, groups, names, prefixes, pattern)
    return StreamingResponse(session.events(start), media_type=EVENT_STREAM)


class _Session:
    """One live tail: what it follows and how far it has read."""

    def __init__(
        self,
        logs: LogStore,
        groups: dict[str, str],  # identifier as given -> group name
        names: list[str] | None,
        prefixes: list[str] | None,
        pattern: str,
    ) -> None:
        self._logs = logs
        self._groups = groups
        self._names = names
        self._prefixes = prefixes
        self._pattern = pattern
        self._since = logs.now_ms()  # events from the session's start on
        self._seen: set[str] = set()  # event ids read at `_since` (several share a ms)

    async def events(self, start: dict[str, Any]) -> AsyncIterator[bytes]:
        yield encode_event("initial-response", b"{}", _JSON)
        yield encode_event("sessionStart", orjson.dumps(start), _JSON)
        loop = asyncio.get_running_loop()
        ends = loop.time() + _SESSION
        while loop.time() < ends:
            await asyncio.sleep(_INTERVAL)
            results, sampled = await self._read()
            update = {"sessionMetadata": {"sampled": sampled}, "sessionResults": results}
            yield encode_event("sessionUpdate", orjson.dumps(update), _JSON)
        timeout = {"message": "Session timed out after three hours."}
        yield encode_event("SessionTimeoutException", orjson.dumps(timeout), _JSON)

    def _streams(self, group: str) -> list[str] | None:
        if self._names is not None:
            return self._names
        if self._prefixes is None:
            return None
        return [
            s.name
            for s in self._logs.streams(group)
            if any(s.name.startswith(prefix) for prefix in self._prefixes)
        ]

    async def _read(self) -> tuple[list[dict[str, Any]], bool]:
        results: list[dict[str, Any]] = []
        newest = self._since
        fresh: set[str] = set()
        for identifier, group in self._groups.items():
            if not self._logs.has_group(group):
                continue
            events, _ = await self._logs.group_page(
                group, self._streams(group), (self._since, None),
                lambda message: self._pattern in message, 0, 10_000, _READ_BYTES,
            )  # fmt: skip
            for event in events:
                if event.event_id in self._seen:
                    continue
                results.append(
                    {
                        "logStreamName": event.stream,
                        "logGroupIdentifier": identifier,
                        "message": event.message,
                        "timestamp": event.timestamp,
                        "ingestionTime": event.ingestion_time,
                    }
                )
                if event.timestamp > newest:
                    newest, fresh = event.timestamp, set()
                if event.timestamp == newest:
                    fresh.add(event.event_id)
        if newest == self._since:
            self._seen |= fresh
        else:
            self._since, self._seen = newest, fresh
        results.sort(key=lambda r: (r["timestamp"], r["logStreamName"]))
        return results[:_PER_UPDATE], len(results) > _PER_UPDATE
