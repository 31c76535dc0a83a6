"""InvokeWithResponseStream (POST /2021-11-15/functions/{FunctionName}/response-streaming-
invocations): the response as AWS's event stream, each chunk sent as the function writes it.

A raw ASGI route, like Invoke's: the answer is 200 with `application/vnd.amazon.eventstream`
and X-Amz-Executed-Version once the response begins; then a `PayloadChunk` event per piece
of the response and one `InvokeComplete` event (ErrorCode, ErrorDetails, LogResult) at the
end. A function that does not stream comes as one PayloadChunk, as on Lambda. Errors before
the response begins (unknown function, throttle, bad input) are answered as Invoke's are.
"""

from __future__ import annotations

import base64
import urllib.parse
import uuid
from typing import Any

import orjson
from starlette.routing import BaseRoute, Route

from ember.api.errors import error_body, error_headers
from ember.api.faults import INTERNAL_FAILURE, hidden, public
from ember.api.invocations import (
    _client_context,
    _Disconnected,
    invocation_kinds,
    read_payload,
)
from ember.api.model import function_name_rule
from ember.config import Settings
from ember.control.names import parse_function_name
from ember.errors import LambdaError
from ember.invoke import Invoker
from ember.invoke.streamed import InvocationResult, StreamedInvocation
from ember.protocols.eventstream import CONTENT_TYPE, encode_event, encode_events

PATH = "/2021-11-15/functions/{FunctionName}/response-streaming-invocations"
_TYPES = ("RequestResponse", "DryRun")

Scope = dict[str, Any]
Headers = list[tuple[bytes, bytes]]


def payload_chunk(data: bytes) -> bytes:
    """A PayloadChunk event (its Payload member is the event's payload, as raw bytes)."""
    return encode_events("PayloadChunk", data, "application/octet-stream")


def invoke_complete(result: InvocationResult, *, with_log: bool) -> bytes:
    """The InvokeComplete event: the error the invocation ended with, if any, and the log
    tail when asked for (LogType Tail)."""
    members: dict[str, str] = {}
    if result.function_error is not None or result.error_type is not None:
        members["ErrorCode"] = result.error_type or result.function_error or "Unhandled"
        members["ErrorDetails"] = error_details(result.payload)
    if with_log:
        members["LogResult"] = base64.b64encode(result.log_tail).decode()
    return encode_event("InvokeComplete", orjson.dumps(members), "application/json")


def error_details(document: bytes) -> str:
    """An error document's errorMessage, or the document itself when it has none."""
    try:
        parsed = orjson.loads(document)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        message: str = parsed["errorMessage"]
        return message
    return document.decode("utf-8", "replace")


class StreamingRoutes:
    def __init__(self, settings: Settings, invoker: Invoker) -> None:
        self._settings = settings
        self._invoker = invoker
        self._name_pattern, self._name_max = function_name_rule("InvokeWithResponseStream")

    def routes(self) -> list[BaseRoute]:
        # Starlette runs an endpoint that is neither a function nor a method as ASGI.
        return [Route(PATH, self, methods=["POST"])]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        request_id = str(uuid.uuid4())
        error: LambdaError | None = None
        try:
            begun = await self._begin(scope, receive, request_id)
        except _Disconnected:
            return  # nobody to answer
        except LambdaError as exc:
            error = public(exc, request_id, "InvokeWithResponseStream")
        except Exception as exc:
            error = hidden(exc, request_id, "InvokeWithResponseStream")
        if error is not None:
            await _answer(send, error.status, error_headers(error, request_id), error_body(error))
            return
        if begun is None:  # DryRun: AWS names no ExecutedVersion
            await _answer(send, 204, [(b"x-amzn-requestid", request_id.encode())], b"")
            return
        streamed, with_log = begun
        async with streamed:
            await self._relay(streamed, send, request_id, with_log=with_log)

    async def _begin(
        self, scope: Scope, receive: Any, request_id: str
    ) -> tuple[StreamedInvocation, bool] | None:
        """Read and check the request, start the invocation; None for a DryRun."""
        headers: dict[bytes, bytes] = dict(scope["headers"])
        invocation_type, log_type = invocation_kinds(headers, _TYPES)
        qualifier = None
        if scope["query_string"]:
            query = urllib.parse.parse_qs(scope["query_string"].decode())
            qualifier = query.get("Qualifier", [None])[0]
        ref = parse_function_name(
            urllib.parse.unquote(scope["path_params"]["FunctionName"]),
            self._settings.region,
            qualifier=qualifier,
            max_length=self._name_max,
            pattern=self._name_pattern,
            account=self._settings.account_id,
        )
        payload = await read_payload(receive)
        client_context = _client_context(headers.get(b"x-amz-client-context"))
        if invocation_type == "DryRun":
            await self._invoker.resolve(ref.name, ref.qualifier)
            return None
        streamed = await self._invoker.invoke_stream(
            ref.name,
            ref.qualifier,
            payload,
            client_context=client_context,
            want_log_tail=log_type == "Tail",
            request_id=request_id,
            # The caller's X-Ray header, kept as Invoke keeps it.
            trace=headers.get(b"x-amzn-trace-id", b"").decode("latin-1") or None,
        )
        return streamed, log_type == "Tail"

    async def _relay(
        self, streamed: StreamedInvocation, send: Any, request_id: str, *, with_log: bool
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"x-amz-executed-version", streamed.executed_version.encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        try:
            async for chunk in streamed.chunks():
                event = payload_chunk(chunk)
                await send({"type": "http.response.body", "body": event, "more_body": True})
            complete = invoke_complete(await streamed.result(), with_log=with_log)
        except Exception as exc:
            # The answer has begun: the fault can only end the stream, logged with its id.
            hidden(exc, request_id, "InvokeWithResponseStream")
            members = {"ErrorCode": "ServiceException", "ErrorDetails": INTERNAL_FAILURE}
            complete = encode_event("InvokeComplete", orjson.dumps(members), "application/json")
        await send({"type": "http.response.body", "body": complete, "more_body": False})


async def _answer(send: Any, status: int, headers: Headers, body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
