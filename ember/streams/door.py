"""Kinesis's front door: the JSON 1.1 protocol (`X-Amz-Target: Kinesis_20131202.<Operation>`)
as AWS SDKs speak it (boto3 and the AWS CLI send JSON; botocore's `kinesis` model has no
CBOR), and its one error renderer: `{"__type": <code>, "message": …}`."""

from __future__ import annotations

import logging
import uuid

import orjson

from ember.errors import LambdaError
from ember.protocols.asgi import Receive, Scope, Send, read_body, respond
from ember.streams.errors import SerializationError, StreamError, UnknownOperationError
from ember.streams.operations import HANDLERS
from ember.streams.service import Streams

log = logging.getLogger("ember.streams")


CONTENT_TYPE = b"application/x-amz-json-1.1"
PREFIX = "Kinesis_20131202."


class StreamDoor:
    """An ASGI app: one Kinesis request in, one answer out."""

    def __init__(self, streams: Streams) -> None:
        self._streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        target = b""
        for name, value in scope["headers"]:
            if name.lower() == b"x-amz-target":
                target = value
        try:
            status, payload = 200, await self._answer(target.decode("latin-1"), receive)
        except StreamError as exc:
            status, payload = exc.status, orjson.dumps({"__type": exc.code, "message": exc.message})
        except LambdaError as exc:  # the store failed, …: Kinesis's InternalFailure
            log.error("Kinesis request %s failed: %s", request_id, exc.message)
            status = 500
            payload = orjson.dumps({"__type": "InternalFailure", "message": exc.message})
        except Exception:
            log.exception("Kinesis request %s failed", request_id)
            status = 500
            payload = orjson.dumps({"__type": "InternalFailure",
                                    "message": "Internal service failure."})  # fmt: skip
        headers = [
            (b"content-type", CONTENT_TYPE),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        await respond(send, status, headers, payload)

    async def _answer(self, target: str, receive: Receive) -> bytes:
        operation = target.removeprefix(PREFIX)
        handler = HANDLERS.get(operation) if target.startswith(PREFIX) else None
        if handler is None:
            raise UnknownOperationError(f"Ember's streams do not support {operation}.")
        body = await read_body(receive)
        try:
            params = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            params = None
        if not isinstance(params, dict):
            raise SerializationError("Start of structure or map found where not expected.")
        return orjson.dumps(await handler(self._streams, params))
