"""RESPONSE_STREAM function URLs: the function's response goes to the HTTP client chunk by
chunk as the function writes it (Invoker.invoke_stream), chunked on the wire.

As Lambda does: a stream whose content type is `application/vnd.awslambda.http-integration-
response` opens with a JSON prelude (statusCode, headers, cookies) ended by 8 NUL bytes, then
the body; any other stream is a 200 body of its own content type; a function that does not
stream has its payload passed through as it returned it (AWS's recorded answer: the whole
`{"statusCode": …, "body": …}` document, unread).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol

import orjson

from ember.gateway import payload

log = logging.getLogger("ember.gateway.streams")

Send = Callable[[dict[str, Any]], Awaitable[None]]
Header = tuple[bytes, bytes]

HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\x00" * 8
PRELUDE_LIMIT = 64 * 1024  # a prelude is a few headers; past this it is not one
_JSON = b"application/json"
_ERROR = b"Internal Server Error"


class Outcome(Protocol):
    @property
    def payload(self) -> bytes: ...
    @property
    def function_error(self) -> str | None: ...


class Streamed(Protocol):
    """invoke.streamed.StreamedInvocation, as the door reads it."""

    @property
    def streamed(self) -> bool: ...
    @property
    def content_type(self) -> str | None: ...
    def chunks(self) -> AsyncIterator[bytes]: ...
    async def result(self) -> Outcome: ...
    async def __aenter__(self) -> Streamed: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class StreamingInvoker(Protocol):
    async def invoke_stream(
        self, name: str, qualifier: str | None, payload: bytes, *, request_id: str | None = None
    ) -> Streamed: ...


async def answer(
    invoker: StreamingInvoker,
    name: str,
    qualifier: str | None,
    event: bytes,
    request_id: str,
    send: Send,
) -> None:
    """Invoke and stream the answer. Raises what invoke_stream raises before the response
    begins (a throttle, a missing function); once it has begun, a failure only ends it."""
    async with await invoker.invoke_stream(
        name, qualifier, event, request_id=request_id
    ) as streamed:
        ids: list[Header] = [(b"x-amzn-requestid", request_id.encode())]
        if not streamed.streamed:
            result = await streamed.result()
            if result.function_error is not None:
                await _whole(send, 502, [(b"content-type", _JSON), *ids], _ERROR)
                return
            await _whole(send, 200, [(b"content-type", _JSON), *ids], result.payload)
            return
        chunks = streamed.chunks()
        status, first = 200, b""
        headers: list[Header] = []
        if streamed.content_type == HTTP_INTEGRATION:
            prelude = await _prelude(chunks)
            if prelude is None:
                await _whole(send, 502, [(b"content-type", _JSON), *ids], _ERROR)
                return
            status, headers, first = prelude
        else:
            kind = streamed.content_type or "application/octet-stream"
            headers = [(b"content-type", kind.encode("latin-1"))]
        # No content-length: the server sends the body chunked, as it comes.
        await send({"type": "http.response.start", "status": status, "headers": headers + ids})
        if first:
            await send({"type": "http.response.body", "body": first, "more_body": True})
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:  # the stream broke mid-way: end what was sent
            log.warning("function URL stream %s ended early: %s", request_id, exc)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        try:
            result = await streamed.result()
        except Exception as exc:  # answered already: only the log can tell
            log.warning("function URL stream %s: %s", request_id, exc)
            return
        if result.function_error is not None:
            log.info("function URL stream %s: the function failed after streaming", request_id)


async def _prelude(chunks: AsyncIterator[bytes]) -> tuple[int, list[Header], bytes] | None:
    """(status, headers, the body's first bytes) from an HTTP integration stream's prelude;
    None when the stream does not open with one."""
    buffered = b""
    async for chunk in chunks:
        buffered += chunk
        head, found, rest = buffered.partition(DELIMITER)
        if found:
            try:
                doc = orjson.loads(head) if head.strip() else {}
                if not isinstance(doc, dict):
                    return None
                doc.setdefault("statusCode", 200)
                doc.pop("body", None)
                parsed = payload.read_response(orjson.dumps(doc))
            except (orjson.JSONDecodeError, payload.BadResponseError):
                return None
            return parsed.status, parsed.headers, rest
        if len(buffered) > PRELUDE_LIMIT:
            return None
    return None


async def _whole(send: Send, status: int, headers: list[Header], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
