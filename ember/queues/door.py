"""SQS's front door: the JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Operation>`) as
current AWS SDKs speak it, and its one error renderer.

Errors follow `awsQueryCompatible`: `{"__type": "com.amazonaws.sqs#<Shape>", "message"}`
plus `x-amzn-query-error: <query code>;Sender`, from which botocore takes `Error.Code`
(e.g. AWS.SimpleQueueService.NonExistentQueue) and the exception class (QueueDoesNotExist).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import orjson

from ember.errors import LambdaError
from ember.protocols.asgi import Receive, Scope, Send, read_body, respond
from ember.protocols.rendering import query_compatible_error
from ember.queues.errors import QueueError, UnsupportedOperationError
from ember.queues.operations import HANDLERS
from ember.queues.service import Queues

log = logging.getLogger("ember.queues")


CONTENT_TYPE = b"application/x-amz-json-1.0"
TARGET_PREFIX = b"AmazonSQS."
# Operations of botocore's `sqs` model that Ember does not serve.
NOT_SERVED = frozenset({"AddPermission", "RemovePermission", "StartMessageMoveTask",
                        "CancelMessageMoveTask", "ListMessageMoveTasks"})  # fmt: skip
_CREDENTIAL = re.compile(rb"Credential=([A-Za-z0-9]+)/")


class QueueDoor:
    """An ASGI app: one SQS request in, one answer out."""

    def __init__(self, queues: Queues) -> None:
        self._queues = queues

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        target = sender = trace = b""
        for name, value in scope["headers"]:
            lowered = name.lower()
            if lowered == b"x-amz-target":
                target = value
            elif lowered == b"x-amzn-trace-id":
                trace = value
            elif lowered == b"authorization":
                found = _CREDENTIAL.search(value)
                sender = found.group(1) if found else b""
        extra: list[tuple[bytes, bytes]] = []
        try:
            body = await read_body(receive)
            status, payload = 200, await self._answer(target, body, sender, trace)
        except LambdaError as exc:
            status, payload, extra = _error(exc)
        except Exception:
            log.exception("SQS request %s failed", request_id)
            status, extra = 500, [(b"x-amzn-query-error", b"InternalFailure;Receiver")]
            payload = orjson.dumps({"__type": "com.amazonaws.sqs#InternalFailure",
                                    "message": "The request processing has failed because of "
                                    "an unknown error, exception or failure."})  # fmt: skip
        headers = [
            (b"content-type", CONTENT_TYPE),
            (b"x-amzn-requestid", request_id.encode()),
            *extra,
        ]
        await respond(send, status, headers, payload)

    async def _answer(self, target: bytes, body: bytes, sender: bytes, trace: bytes) -> bytes:
        operation = target[len(TARGET_PREFIX) :].decode("latin-1")
        handler = HANDLERS.get(operation) if target.startswith(TARGET_PREFIX) else None
        if handler is None:
            if operation in NOT_SERVED:
                raise UnsupportedOperationError(f"Ember's queues do not support {operation}.")
            raise _UnknownOperation(f"Unknown operation {operation}.")
        try:
            params = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise _Serialization("Start of structure or map found where not expected.") from None
        if not isinstance(params, dict):
            raise _Serialization("Start of structure or map found where not expected.")
        if trace:
            _carry_trace(operation, params, trace.decode("latin-1"))
        result = await handler(self._queues, params, sender.decode("latin-1"))
        return orjson.dumps(result)


def _carry_trace(operation: str, params: dict[str, Any], trace: str) -> None:
    """SQS keeps the sender's X-Ray header (AWS SDKs send `X-Amzn-Trace-Id` from inside a
    function) as each message's AWSTraceHeader, unless the message names its own: Lambda's
    recursive-loop detection follows it from function to queue to function."""
    if operation == "SendMessage":
        entries = [params]
    elif operation == "SendMessageBatch" and isinstance(params.get("Entries"), list):
        entries = [e for e in params["Entries"] if isinstance(e, dict)]
    else:
        return
    for entry in entries:
        system = entry.get("MessageSystemAttributes")
        if system is None:
            system = entry["MessageSystemAttributes"] = {}
        if isinstance(system, dict) and "AWSTraceHeader" not in system:
            system["AWSTraceHeader"] = {"DataType": "String", "StringValue": trace}


class _UnknownOperation(QueueError):
    code = "UnknownOperationException"
    query_code = ""


class _Serialization(QueueError):
    code = "SerializationException"
    query_code = ""


def _error(exc: LambdaError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    type_name = f"com.amazonaws.sqs#{exc.code}"
    if isinstance(exc, QueueError):
        return query_compatible_error(exc, type_name, exc.query_code, exc.status)
    return query_compatible_error(exc, type_name, "")
