"""Relays: connections accepted inside an environment's namespace, each joined to a port
on the host's loopback (what `--host-access` allows, and Ember's environment door).

Every connection is a task the relay owns: at most `limit` at once per environment, each
lent its 3 server descriptors by the server's shared `Allowance` (sandbox.descriptors); more
are closed on arrival. All are cancelled and awaited by `close()`. Each direction copies
until end-of-file and passes it on (half-close), so request/response protocols that shut
down their sending side still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import socket
from collections.abc import Mapping

from ember.sandbox.descriptors import RELAYED_FDS, Allowance

log = logging.getLogger("ember.sandbox")

CONNECTIONS = 16  # per environment, across its relays: 48 server descriptors at most
_CHUNK = 65536
_CONNECT_LIMIT = 5.0  # seconds to reach the host's port


@dataclasses.dataclass(frozen=True, slots=True)
class RelayStatistics:
    listeners: int
    open_connections: int
    accepted: int
    refused: int  # over the limit, or the host's port did not answer


class Relay:
    """Serves `routes`: listening socket (inside a namespace) -> port on host 127.0.0.1."""

    def __init__(
        self,
        routes: Mapping[socket.socket, int],
        limit: int = CONNECTIONS,
        allowance: Allowance | None = None,
    ) -> None:
        self._routes = dict(routes)
        self._limit = limit
        self._allowance = allowance  # the server's descriptors, shared by all environments
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepted = self._refused = 0
        self._closed = False

    async def start(self) -> None:
        for sock, port in self._routes.items():
            accept = functools.partial(self._accept, port=port)
            self._servers.append(await asyncio.start_server(accept, sock=sock))

    def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, port: int
    ) -> None:
        # A plain callback: the task is ours to bound, cancel and await.
        allowance = self._allowance
        if (
            self._closed
            or len(self._tasks) >= self._limit
            or (allowance is not None and not allowance.take(RELAYED_FDS))
        ):
            self._refused += 1
            writer.transport.abort()
            return
        self._accepted += 1
        task = asyncio.create_task(self._join(reader, writer, port), name=f"relay-{port}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._allowance is not None:
            self._allowance.give_back(RELAYED_FDS)

    async def _join(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        try:
            try:
                async with asyncio.timeout(_CONNECT_LIMIT):
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except (OSError, TimeoutError):
                self._refused += 1
                return  # the environment sees its connection reset, as if refused
            try:
                async with asyncio.TaskGroup() as pipes:
                    pipes.create_task(_copy(reader, up_writer))
                    pipes.create_task(_copy(up_reader, writer))
            finally:
                up_writer.transport.abort()
        except* OSError:
            pass  # either side reset: both are dropped
        finally:
            writer.transport.abort()

    def statistics(self) -> RelayStatistics:
        return RelayStatistics(len(self._servers), len(self._tasks), self._accepted, self._refused)

    async def close(self) -> None:
        """Stop listening (the sockets close), drop every connection. Idempotent."""
        self._closed = True
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            await server.wait_closed()
        for sock in self._routes:
            sock.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(_CHUNK):
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()
