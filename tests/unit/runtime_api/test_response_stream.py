"""ResponseStream on its own: order, joining, the reader's back-pressure on the connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ember.runtime_api.streaming import HIGH_WATER, ResponseStream


class _Connection:
    """Counts pauses and resumes as Connection would do them."""

    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0

    def pause(self) -> Callable[[], None]:
        self.paused += 1
        return self.resume

    def resume(self) -> None:
        self.resumed += 1


def test_pieces_are_read_in_order_and_joined() -> None:
    async def scenario() -> None:
        stream, connection = ResponseStream(), _Connection()
        stream.open("text/plain")
        stream.write(b"a", connection.pause)
        stream.write(b"", connection.pause)  # nothing: no empty chunk for the reader
        stream.write(b"bc", connection.pause)
        assert await stream.read() == b"abc"
        stream.write(b"d", connection.pause)
        stream.close()
        assert await stream.read() == b"d"
        assert await stream.read() is None
        assert stream.content_type == "text/plain"

    asyncio.run(scenario())


def test_a_lagging_reader_pauses_the_connection_until_it_reads() -> None:
    async def scenario() -> None:
        stream, connection = ResponseStream(), _Connection()
        stream.open(None)
        piece = b"x" * (HIGH_WATER // 2)
        for _ in range(4):
            stream.write(piece, connection.pause)
        assert (connection.paused, connection.resumed) == (1, 0)  # once, past HIGH_WATER
        assert len(await stream.read() or b"") == 4 * len(piece)
        assert (connection.paused, connection.resumed) == (1, 1)
        for _ in range(3):
            stream.write(piece, connection.pause)
        assert connection.paused == 2
        stream.close()  # the invocation ended: the connection may read again
        assert connection.resumed == 2

    asyncio.run(scenario())


def test_a_reader_waits_for_the_start_or_the_end() -> None:
    async def scenario() -> None:
        stream = ResponseStream()
        waiting = asyncio.create_task(stream.wait_open())
        await asyncio.sleep(0)
        assert not waiting.done()
        stream.close()  # the invocation ended without streaming
        await waiting
        assert not stream.opened
        stream.write(b"late", _Connection().pause)  # dropped: nobody reads any more
        assert await stream.read() is None

    asyncio.run(scenario())
