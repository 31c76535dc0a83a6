"""DynamoDB's and DynamoDB Streams' front door: the JSON 1.0 protocol
(`X-Amz-Target: DynamoDB_20120810.<Op>` / `DynamoDBStreams_20120810.<Op>`) and its one
error renderer: `{"__type": "com.amazonaws.dynamodb.v20120810#<code>", "message"}`, 400
(`com.amazon.coral.validate#ValidationException` for validation errors, as AWS writes it).
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ember.errors import LambdaError
from ember.protocols.asgi import Receive, Scope, Send, read_body, respond
from ember.tables import definitions, items, queries, stream_api, transactions
from ember.tables.errors import (
    ConditionalCheckFailedError,
    SerializationError,
    TableValidationError,
    TransactionCanceledError,
    UnknownOperationError,
)
from ember.tables.service import Tables

log = logging.getLogger("ember.tables")

Params = dict[str, Any]
Handler = Callable[[Tables, Params], Awaitable[Params]]

TABLES_PREFIX = "DynamoDB_20120810."
STREAMS_PREFIX = "DynamoDBStreams_20120810."
CONTENT_TYPE = b"application/x-amz-json-1.0"

HANDLERS: dict[str, Handler] = {
    TABLES_PREFIX + "CreateTable": definitions.create_table,
    TABLES_PREFIX + "DescribeTable": definitions.describe_table,
    TABLES_PREFIX + "ListTables": definitions.list_tables,
    TABLES_PREFIX + "DeleteTable": definitions.delete_table,
    TABLES_PREFIX + "UpdateTable": definitions.update_table,
    TABLES_PREFIX + "UpdateTimeToLive": definitions.update_time_to_live,
    TABLES_PREFIX + "DescribeTimeToLive": definitions.describe_time_to_live,
    TABLES_PREFIX + "PutItem": items.put_item,
    TABLES_PREFIX + "GetItem": items.get_item,
    TABLES_PREFIX + "DeleteItem": items.delete_item,
    TABLES_PREFIX + "UpdateItem": items.update_item,
    TABLES_PREFIX + "Query": queries.query,
    TABLES_PREFIX + "Scan": queries.scan,
    TABLES_PREFIX + "BatchWriteItem": items.batch_write_item,
    TABLES_PREFIX + "BatchGetItem": items.batch_get_item,
    TABLES_PREFIX + "TransactWriteItems": transactions.transact_write_items,
    TABLES_PREFIX + "TransactGetItems": transactions.transact_get_items,
    STREAMS_PREFIX + "ListStreams": stream_api.list_streams,
    STREAMS_PREFIX + "DescribeStream": stream_api.describe_stream,
    STREAMS_PREFIX + "GetShardIterator": stream_api.get_shard_iterator,
    STREAMS_PREFIX + "GetRecords": stream_api.get_records,
}


class TableDoor:
    """An ASGI app: one DynamoDB or DynamoDB Streams request in, one answer out."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = uuid.uuid4().hex.upper()[:52]
        target = ""
        for name, value in scope["headers"]:
            if name.lower() == b"x-amz-target":
                target = value.decode("latin-1")
        try:
            body = await read_body(receive)
            status, payload = 200, await self._answer(target, body)
        except LambdaError as exc:
            status, payload = _error(exc)
        except Exception:
            log.exception("DynamoDB request %s failed", request_id)
            status = 500
            payload = orjson.dumps({
                "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "message": "Internal server error",
            })  # fmt: skip
        headers = [
            (b"content-type", CONTENT_TYPE),
            (b"x-amzn-requestid", request_id.encode()),
            # botocore checks DynamoDB answers against this CRC32 when it is present.
            (b"x-amz-crc32", str(zlib.crc32(payload)).encode()),
        ]
        await respond(send, status, headers, payload)

    async def _answer(self, target: str, body: bytes) -> bytes:
        handler = HANDLERS.get(target)
        if handler is None:
            operation = target.partition(".")[2]
            raise UnknownOperationError(f"Ember's tables do not support {operation or target}.")
        try:
            params = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise SerializationError(
                "Start of structure or map found where not expected."
            ) from None
        if not isinstance(params, dict):
            raise SerializationError("Start of structure or map found where not expected.")
        try:
            result = await handler(self._tables, params)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A member of the wrong JSON type deep in a request: AWS answers a
            # SerializationException-like validation error, never a 500.
            raise TableValidationError(f"Invalid request: {exc}") from None
        return orjson.dumps(result)


def _error(exc: LambdaError) -> tuple[int, bytes]:
    if isinstance(exc, TableValidationError):
        kind = "com.amazon.coral.validate#ValidationException"
    else:
        kind = f"com.amazonaws.dynamodb.v20120810#{exc.code}"
    status = 400 if exc.fault == "User" else 500
    doc: dict[str, Any] = {"__type": kind, "message": exc.message}
    if isinstance(exc, ConditionalCheckFailedError) and exc.item is not None:
        doc["Item"] = exc.item
    if isinstance(exc, TransactionCanceledError):
        doc["CancellationReasons"] = exc.reasons
    return status, orjson.dumps(doc)
