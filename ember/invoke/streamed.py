"""One invocation whose response is read as it arrives (Invoker.invoke_stream).

The invocation runs in a task this object owns: `aclose()` (or leaving `async with`)
cancels it if it is still running, which, as for a cancelled Invoke, retires the
environment it ran on. Read `chunks()` to the end, then `result()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from types import TracebackType
from typing import Any

from ember.scheduler import InvocationResult as InvocationResult  # for the API's use
from ember.scheduler import ResponseStream


class StreamedInvocation:
    """A running invocation and its response, chunk by chunk.

    `streamed`: the function streamed its response (a custom runtime in streaming mode);
    else `chunks()` yields its whole buffered payload once, as Lambda does for a function
    that does not stream — an error document when `result().function_error` is set.
    `content_type`: what the runtime declared for its stream (None when it did not stream).
    `executed_version`: the version that runs.
    """

    def __init__(
        self,
        executed_version: str,
        stream: ResponseStream,
        work: Coroutine[Any, Any, InvocationResult],
    ) -> None:
        self.executed_version = executed_version
        self._stream = stream
        self._task = asyncio.get_running_loop().create_task(work, name="invoke-stream")
        # However the invocation ends, its stream ends with it.
        self._task.add_done_callback(lambda _: stream.close())

    @property
    def streamed(self) -> bool:
        return self._stream.opened

    @property
    def content_type(self) -> str | None:
        return self._stream.content_type

    async def wait_started(self) -> None:
        """Until the response begins: the first chunk of a stream, or the whole result of a
        buffered invocation. Raises what the invocation raised (a throttle, say)."""
        await self._stream.wait_open()
        if self._task.done():
            self._task.result()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The response body as it arrives (never an empty chunk)."""
        if not self._stream.opened:
            await self._stream.wait_open()
        if self._stream.opened:
            while (chunk := await self._stream.read()) is not None:
                yield chunk
            return
        payload = (await self.result()).payload
        if payload:
            yield payload

    async def result(self) -> InvocationResult:
        """The invocation's outcome, once it is over. For a streamed response, `payload`
        holds nothing of what was streamed: it is empty, or the error document the
        runtime's trailers (or the platform: a timeout, a crash) reported."""
        return await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Stop the invocation if it still runs; idempotent."""
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def __aenter__(self) -> StreamedInvocation:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
