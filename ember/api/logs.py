"""A CloudWatch Logs front door (JSON 1.1 protocol, `X-Amz-Target: Logs_20140328.*`) over
the log store, so `aws logs` and boto3's logs client read and manage logs as on AWS.

Covers DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents, and the
operations tools and test fixtures clean up and write with: CreateLogGroup,
CreateLogStream, DeleteLogGroup, DeleteLogStream, PutLogEvents; retention
(PutRetentionPolicy, DeleteRetentionPolicy); and StartLiveTail (api/livetail.py).
Requests are read up to MAX_BODY bytes, never more.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ember.api.livetail import start_live_tail
from ember.api.logchecks import (
    CONTENT_TYPE,
    MAX_BODY,
    LogsError,
    check_events,
    check_names,
    check_retention,
    integer,
    not_found,
    too_large,
)
from ember.telemetry import LogEvent, LogStore
from ember.telemetry.logs import GroupInfo

TARGET_PREFIX = "Logs_20140328."
_CONTENT_TYPE = CONTENT_TYPE
_PAGE = 50
_EVENTS_PAGE = 10_000
_RESPONSE_BYTES = 1_048_576  # GetLogEvents / FilterLogEvents: 1 MB of events at most

Params = dict[str, Any]


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


def _group(group: GroupInfo) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "metricFilterCount": 0,
        "arn": f"arn:aws:logs:::log-group:{group.name}:*",
        "logGroupArn": f"arn:aws:logs:::log-group:{group.name}",
        "storedBytes": group.stored_bytes,
        "logGroupClass": "STANDARD",
    }
    if group.retention_days is not None:
        doc["retentionInDays"] = group.retention_days
    return doc


def _page(items: list[Any], token: str | None, limit: int) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    chunk = items[start : start + limit]
    return chunk, (str(start + limit) if start + limit < len(items) else None)


def _window(params: Params) -> tuple[int | None, int | None]:
    return integer(params, "startTime", 0), integer(params, "endTime", 0)


async def _read_body(request: Request) -> bytes:
    """The body, refused past MAX_BODY bytes without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


class LogsApi:
    def __init__(self, logs: LogStore) -> None:
        self._logs = logs
        self._ops: dict[str, Callable[[Params], Awaitable[Params]]] = {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
            "CreateLogGroup": self.create_log_group,
            "CreateLogStream": self.create_log_stream,
            "DeleteLogGroup": self.delete_log_group,
            "DeleteLogStream": self.delete_log_stream,
            "PutLogEvents": self.put_log_events,
            "PutRetentionPolicy": self.put_retention_policy,
            "DeleteRetentionPolicy": self.delete_retention_policy,
        }

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        name = target.removeprefix(TARGET_PREFIX)
        op = self._ops.get(name)
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id}
        try:
            if op is None and name != "StartLiveTail":
                raise LogsError("UnknownOperationException", f"Unknown operation {target}")
            raw = await _read_body(request)
            try:
                params = orjson.loads(raw) if raw.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise LogsError("SerializationException", str(exc)) from None
            if not isinstance(params, dict):
                raise LogsError("SerializationException", "The request body is not a JSON object")
            if op is None:  # StartLiveTail: an event stream, not one JSON document
                stream = start_live_tail(self._logs, params, request_id)
                stream.headers.update(headers)
                return stream
            result = await op(params)
        except LogsError as error:
            return Response(
                error.to_json(),
                status_code=error.status,
                media_type=_CONTENT_TYPE,
                headers=headers,
            )
        return Response(orjson.dumps(result), media_type=_CONTENT_TYPE, headers=headers)

    # -- reading ------------------------------------------------------------------------

    async def describe_log_groups(self, params: Params) -> Params:
        prefix = params.get("logGroupNamePrefix") or ""
        limit = integer(params, "limit", 1, 50) or _PAGE
        groups = [g for g in self._logs.groups() if g.name.startswith(prefix)]
        chunk, token = _page(groups, params.get("nextToken"), limit)
        doc: Params = {"logGroups": [_group(g) for g in chunk]}
        if token:
            doc["nextToken"] = token
        return doc

    async def describe_log_streams(self, params: Params) -> Params:
        group = check_names(params, stream=False)
        limit = integer(params, "limit", 1, 50) or _PAGE
        if not self._logs.has_group(group):
            raise not_found("log group")
        prefix = params.get("logStreamNamePrefix") or ""
        streams = [s for s in self._logs.streams(group) if s.name.startswith(prefix)]
        if params.get("orderBy") == "LastEventTime":
            streams.sort(key=lambda s: s.last_event or 0)
        else:
            streams.sort(key=lambda s: s.name)
        if params.get("descending"):
            streams.reverse()
        chunk, token = _page(streams, params.get("nextToken"), limit)
        doc: Params = {
            "logStreams": [
                {
                    "logStreamName": s.name,
                    "creationTime": s.created,
                    "firstEventTimestamp": s.first_event,
                    "lastEventTimestamp": s.last_event,
                    "lastIngestionTime": s.last_event,
                    "arn": f"arn:aws:logs:::log-group:{group}:log-stream:{s.name}",
                    "storedBytes": s.stored_bytes,
                }
                for s in chunk
            ]
        }
        if token:
            doc["nextToken"] = token
        return doc

    async def get_log_events(self, params: Params) -> Params:
        group, stream = check_names(params), params["logStreamName"]
        limit = integer(params, "limit", 1, _EVENTS_PAGE) or _EVENTS_PAGE
        window = _window(params)
        if not self._logs.has_group(group):
            raise not_found("log group")
        if not self._logs.has_stream(group, stream):
            raise not_found("log stream")
        # Tokens are positions in the stream: "f/N" reads on from N, "b/N" back from N.
        # Without one, CloudWatch starts at the head only when asked (startFromHead), else
        # it answers the stream's last page.
        token = str(params.get("nextToken") or "")
        position = int(token[2:]) if token[2:].isdigit() else None
        if token.startswith("b/") or (not token and params.get("startFromHead") is not True):
            events, start = await self._logs.stream_page_before(
                group, stream, window, position, limit, _RESPONSE_BYTES
            )
        else:
            start = position or 0
            events, _ = await self._logs.stream_page(
                group, stream, window, start, limit, _RESPONSE_BYTES
            )
        end = start + len(events)
        return {
            "events": [_event(e, with_stream=False) for e in events],
            "nextForwardToken": f"f/{end}",
            "nextBackwardToken": f"b/{start}",
        }

    async def filter_log_events(self, params: Params) -> Params:
        group = check_names(params, stream=False)
        limit = integer(params, "limit", 1, _EVENTS_PAGE) or _EVENTS_PAGE
        window = _window(params)
        if not self._logs.has_group(group):
            raise not_found("log group")
        names = params.get("logStreamNames")
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise LogsError("SerializationException", "logStreamNames must be a list of strings")
        prefix = params.get("logStreamNamePrefix")
        if prefix:
            names = [s.name for s in self._logs.streams(group) if s.name.startswith(prefix)]
        pattern = str(params.get("filterPattern") or "").strip().strip('"')
        token = str(params.get("nextToken") or "")
        start = int(token) if token.isdigit() else 0
        events, more = await self._logs.group_page(
            group, names, window, lambda message: pattern in message, start, limit,
            _RESPONSE_BYTES,
        )  # fmt: skip
        doc: Params = {"events": [_event(e, with_stream=True) for e in events]}
        if more:
            doc["nextToken"] = str(start + len(events))
        return doc

    # -- managing and writing -----------------------------------------------------------

    async def create_log_group(self, params: Params) -> Params:
        group = check_names(params, stream=False)
        if not self._logs.create_group(group):
            raise LogsError(
                "ResourceAlreadyExistsException", "The specified log group already exists"
            )
        return {}

    async def create_log_stream(self, params: Params) -> Params:
        group, stream = check_names(params), params["logStreamName"]
        if not self._logs.has_group(group):
            raise not_found("log group")
        if not self._logs.create_stream(group, stream):
            raise LogsError(
                "ResourceAlreadyExistsException", "The specified log stream already exists"
            )
        return {}

    async def delete_log_group(self, params: Params) -> Params:
        group = check_names(params, stream=False)
        if not self._logs.delete_group(group):
            raise not_found("log group")
        return {}

    async def delete_log_stream(self, params: Params) -> Params:
        group, stream = check_names(params), params["logStreamName"]
        if not self._logs.has_group(group):
            raise not_found("log group")
        if not self._logs.delete_stream(group, stream):
            raise not_found("log stream")
        return {}

    async def put_retention_policy(self, params: Params) -> Params:
        group = check_names(params, stream=False)
        days = check_retention(params)
        if not self._logs.set_retention(group, days):
            raise not_found("log group")
        return {}

    async def delete_retention_policy(self, params: Params) -> Params:
        group = check_names(params, stream=False)
        if not self._logs.set_retention(group, None):
            raise not_found("log group")
        return {}

    async def put_log_events(self, params: Params) -> Params:
        group, stream = check_names(params), params["logStreamName"]
        batch = check_events(params, self._logs.now_ms())
        if not self._logs.has_group(group):
            raise not_found("log group")
        if not self._logs.has_stream(group, stream):
            raise not_found("log stream")
        accepted, rejected = batch.accepted, dict(batch.rejected)
        cutoff = self._logs.cutoff(group)
        expired = sum(1 for stamp, _ in accepted if cutoff is not None and stamp < cutoff)
        if expired:  # older than the group's retention: CloudWatch does not take them
            accepted = accepted[expired:]
            rejected["expiredLogEventEndIndex"] = (
                rejected.get("tooOldLogEventEndIndex", 0) + expired
            )
        self._logs.put_events(group, stream, accepted)
        doc: Params = {"nextSequenceToken": f"{uuid.uuid4().int:056d}"[:56]}
        if rejected:
            doc["rejectedLogEventsInfo"] = rejected
        return doc
