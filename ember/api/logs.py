"""A CloudWatch Logs front door (JSON 1.1 protocol, `X-Amz-Target: Logs_20140328.*`) over
the log store, so `aws logs` and boto3's logs client read function logs as on AWS.

Covers DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ember.telemetry import LogEvent, LogStore

TARGET_PREFIX = "Logs_20140328."
_PAGE = 50
_EVENTS_PAGE = 10_000


class LogsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _not_found(what: str) -> LogsError:
    return LogsError("ResourceNotFoundException", f"The specified {what} does not exist.")


def _event(event: LogEvent, *, with_stream: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "timestamp": event.timestamp,
        "message": event.message,
        "ingestionTime": event.ingestion_time,
    }
    if with_stream:
        doc["logStreamName"] = event.stream
        doc["eventId"] = event.event_id
    return doc


def _page(items: list[Any], token: str | None, limit: int) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    chunk = items[start : start + limit]
    return chunk, (str(start + limit) if start + limit < len(items) else None)


class LogsApi:
    def __init__(self, logs: LogStore) -> None:
        self._logs = logs
        self._ops: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
        }

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        op = self._ops.get(target.removeprefix(TARGET_PREFIX))
        try:
            if op is None:
                raise LogsError("UnknownOperationException", f"Unknown operation {target}")
            raw = await request.body()
            try:
                params = orjson.loads(raw) if raw.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise LogsError("SerializationException", str(exc)) from None
            result = await op(params)
        except LogsError as error:
            return Response(
                orjson.dumps({"__type": error.code, "message": error.message}),
                status_code=400,
                media_type="application/x-amz-json-1.1",
            )
        return Response(orjson.dumps(result), media_type="application/x-amz-json-1.1")

    async def describe_log_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("logGroupNamePrefix", "")
        groups = [g for g in self._logs.groups() if g.startswith(prefix)]
        chunk, token = _page(groups, params.get("nextToken"), params.get("limit", _PAGE))
        doc: dict[str, Any] = {
            "logGroups": [
                {"logGroupName": g, "arn": f"arn:aws:logs:::log-group:{g}:*", "storedBytes": 0}
                for g in chunk
            ]
        }
        if token:
            doc["nextToken"] = token
        return doc

    async def describe_log_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("logGroupName", "")
        if not self._logs.has_group(group):
            raise _not_found("log group")
        streams = self._logs.streams(group)
        prefix = params.get("logStreamNamePrefix", "")
        streams = [s for s in streams if s.name.startswith(prefix)]
        if params.get("orderBy") == "LastEventTime":
            streams.sort(key=lambda s: s.last_event or 0)
        else:
            streams.sort(key=lambda s: s.name)
        if params.get("descending"):
            streams.reverse()
        chunk, token = _page(streams, params.get("nextToken"), params.get("limit", _PAGE))
        doc: dict[str, Any] = {
            "logStreams": [
                {
                    "logStreamName": s.name,
                    "creationTime": s.created,
                    "firstEventTimestamp": s.first_event,
                    "lastEventTimestamp": s.last_event,
                    "lastIngestionTime": s.last_event,
                    "storedBytes": s.stored_bytes,
                }
                for s in chunk
            ]
        }
        if token:
            doc["nextToken"] = token
        return doc

    async def get_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("logGroupName", "")
        stream = params.get("logStreamName", "")
        if not self._logs.has_group(group):
            raise _not_found("log group")
        if not self._logs.has_stream(group, stream):
            raise _not_found("log stream")
        events = self._logs.events(group, [stream], params.get("startTime"), params.get("endTime"))
        limit = min(params.get("limit", _EVENTS_PAGE), _EVENTS_PAGE)
        token = params.get("nextToken", "")
        start = int(token[2:]) if token[2:].isdigit() else 0
        chunk = events[start : start + limit]
        end = start + len(chunk)
        return {
            "events": [_event(e, with_stream=False) for e in chunk],
            "nextForwardToken": f"f/{end}",
            "nextBackwardToken": f"b/{start}",
        }

    async def filter_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("logGroupName", "")
        if not self._logs.has_group(group):
            raise _not_found("log group")
        names = params.get("logStreamNames")
        events = self._logs.events(group, names, params.get("startTime"), params.get("endTime"))
        pattern = params.get("filterPattern", "").strip().strip('"')
        if pattern:
            events = [e for e in events if pattern in e.message]
        chunk, token = _page(events, params.get("nextToken"), params.get("limit", _EVENTS_PAGE))
        doc: dict[str, Any] = {"events": [_event(e, with_stream=True) for e in chunk]}
        if token:
            doc["nextToken"] = token
        return doc
