"""RuntimeEndpoint: the Runtime API server of one execution environment, start to close.

One tiny HTTP/1.1 server per environment on 127.0.0.1:<ephemeral port>; the runtime finds
it through AWS_LAMBDA_RUNTIME_API, and the port is what tells environments apart.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from ember.runtime_api.connection import Connection, Counters
from ember.runtime_api.errors import EndpointClosedError
from ember.runtime_api.handlers import RuntimeHandlers
from ember.runtime_api.invocation import InitError, Invocation, RuntimeResponse
from ember.runtime_api.lifecycle import Lifecycle
from ember.runtime_api.messages import MAX_RESPONSE_BYTES
from ember.runtime_api.routing import Router
from ember.runtime_api.states import RuntimeState

# Pending connections: one runtime (later also its extensions) connects, rarely more.
_BACKLOG = 16


@dataclass(frozen=True, slots=True)
class EndpointStatistics:
    """A snapshot of one endpoint."""

    state: RuntimeState
    requests_served: int  # HTTP requests answered
    rejected_requests: int  # of which answered 4xx / 5xx
    invocations: int  # handed to the runtime
    connections_accepted: int
    open_connections: int
    parked: bool  # a GET /next is waiting for work
    polls_dropped: int  # parked GET /next whose connection went away


class RuntimeEndpoint:
    """The Runtime API 2018-06-01 for one environment."""

    def __init__(self, *, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._max_response_bytes = max_response_bytes
        self._lifecycle = Lifecycle()
        self._router = Router()
        RuntimeHandlers(self._lifecycle, max_response_bytes).register(self._router)
        self._connections: set[Connection] = set()
        self._counters = Counters()
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> str:
        """Listen on an ephemeral port of `host` (a literal address); return "host:port"."""
        if self._server is not None:
            raise RuntimeError("the endpoint is already started")
        if self._lifecycle.state is RuntimeState.CLOSED:
            raise EndpointClosedError("the endpoint was closed")
        ipv6 = ":" in host
        # One socket on one port, whatever the host resolves to.
        sock = socket.create_server(
            (host, 0), family=socket.AF_INET6 if ipv6 else socket.AF_INET, backlog=_BACKLOG
        )
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self._connection, sock=sock
            )
        except BaseException:
            sock.close()
            raise
        port = sock.getsockname()[1]
        return f"[{host}]:{port}" if ipv6 else f"{host}:{port}"

    @property
    def state(self) -> RuntimeState:
        return self._lifecycle.state

    async def wait_ready(self) -> InitError | None:
        """None once the runtime first parks in GET /next; its InitError if it reports one.

        EndpointClosedError if the endpoint closes first. Timeouts are the caller's.
        """
        return await self._lifecycle.wait_ready()

    async def wait_idle(self) -> None:
        """Until the runtime is back in GET /next after an invocation (safe to freeze).

        InitFailedError / EndpointClosedError when it never will be.
        """
        await self._lifecycle.wait_idle()

    async def invoke(self, invocation: Invocation) -> RuntimeResponse:
        """Hand `invocation` to the parked GET /next (or the next to arrive); return its result.

        Cancelling it before the runtime got the invocation withdraws it; after, the
        endpoint is ABANDONED and the environment must be destroyed. Raises
        EndpointBusyError, InitFailedError or EndpointClosedError when it cannot run.
        """
        return await self._lifecycle.invoke(invocation)

    def statistics(self) -> EndpointStatistics:
        lifecycle, counters = self._lifecycle, self._counters
        return EndpointStatistics(
            state=lifecycle.state,
            requests_served=counters.requests,
            rejected_requests=counters.rejected,
            invocations=lifecycle.invocations,
            connections_accepted=counters.connections,
            open_connections=len(self._connections),
            parked=lifecycle.parked,
            polls_dropped=lifecycle.polls_dropped,
        )

    async def close(self) -> None:
        """Stop listening, drop every connection, fail every waiter. Idempotent."""
        self._lifecycle.close()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self._connections):
            # Abort, not close: a frozen or dead runtime would never drain a pending write.
            connection.abort()
        if server is not None:
            await server.wait_closed()

    def _connection(self) -> Connection:
        return Connection(self._router, self._connections, self._counters, self._max_response_bytes)
