"""RuntimeEndpoint: the Runtime and Extensions APIs of one execution environment, start to close.

One tiny HTTP/1.1 server per environment. Sandboxed, it serves a socket made inside the
environment's own network namespace at 127.0.0.1:9001, as on Lambda (`start_on`); otherwise
it listens on 127.0.0.1:<ephemeral port> and the port tells environments apart (`start`).
The runtime and the extensions find it through AWS_LAMBDA_RUNTIME_API.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from ember.runtime_api.connection import BodyBudget, Connection, Counters, Lender
from ember.runtime_api.errors import EndpointClosedError
from ember.runtime_api.extension_handlers import ExtensionHandlers
from ember.runtime_api.extensions import Extension, Extensions
from ember.runtime_api.handlers import RuntimeHandlers
from ember.runtime_api.invocation import InitError, Invocation, RuntimeResponse
from ember.runtime_api.lifecycle import Lifecycle
from ember.runtime_api.messages import MAX_RESPONSE_BYTES
from ember.runtime_api.restore import RestoreGate
from ember.runtime_api.routing import Router
from ember.runtime_api.states import RuntimeState
from ember.runtime_api.telemetry import Telemetry

# Pending connections: the runtime and its extensions connect, rarely more.
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
    extensions: int  # registered
    pooled_body_bytes: int  # of small request bodies not yet complete (BodyBudget)
    large_body: bool  # a connection is receiving the endpoint's one large body


class RuntimeEndpoint:
    """The Runtime API 2018-06-01 and Extensions API 2020-01-01 for one environment.

    `metadata` (functionName, functionVersion, handler) is what /extension/register answers;
    `external_extensions` are the names of the executables in /opt/extensions;
    `lender` lends the server's descriptors to connections past the first two.
    """

    def __init__(
        self,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        metadata: Mapping[str, str] | None = None,
        external_extensions: frozenset[str] = frozenset(),
        lender: Lender | None = None,
    ) -> None:
        self._max_response_bytes = max_response_bytes
        self._lender = lender
        self._lifecycle = Lifecycle()
        self._extensions = Extensions(metadata or {}, external_extensions)
        self._router = Router()
        RuntimeHandlers(self._lifecycle, max_response_bytes).register(self._router)
        ExtensionHandlers(self._extensions).register(self._router)
        self.telemetry = Telemetry(self._extensions)  # the Telemetry API's subscriptions
        self.telemetry.register(self._router)
        # SnapStart's restore/next and restore/error (only SnapStart runtimes call them).
        self.restore_gate = RestoreGate(self._lifecycle)
        self.restore_gate.register(self._router)
        self._connections: set[Connection] = set()
        self._counters = Counters()
        self._bodies = BodyBudget()  # unfinished request bodies, across connections
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
            return await self.start_on(sock)
        except BaseException:
            sock.close()
            raise

    async def start_on(self, sock: socket.socket) -> str:
        """Serve `sock`, a listening socket made by the caller (e.g. inside a network
        namespace); return its "host:port". The endpoint closes it on close()."""
        if self._server is not None:
            raise RuntimeError("the endpoint is already started")
        if self._lifecycle.state is RuntimeState.CLOSED:
            raise EndpointClosedError("the endpoint was closed")
        self._server = await asyncio.get_running_loop().create_server(self._connection, sock=sock)
        host, port = sock.getsockname()[:2]
        return f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"

    @property
    def state(self) -> RuntimeState:
        return self._lifecycle.state

    async def wait_ready(self) -> InitError | None:
        """None once the runtime first parks in GET /next; its InitError if it reports one.

        EndpointClosedError if the endpoint closes first. Timeouts are the caller's.
        """
        return await self._lifecycle.wait_ready()

    async def wait_idle(self) -> None:
        """Until the runtime is back in GET /next after an invocation and every extension
        that got the INVOKE event has called next again (the invocation is complete: safe
        to freeze). InitFailedError / EndpointClosedError when it never will be.
        """
        await self._lifecycle.wait_idle()
        await self._extensions.wait_until(self._extensions.settled)

    async def wait_extensions_registered(self, names: frozenset[str]) -> Extension | None:
        """Until every extension in `names` has registered (Extension Init); the first
        that reported an error instead, if one did."""
        extensions = self._extensions
        await extensions.wait_until(
            lambda: extensions.registered(names) or extensions.failure() is not None
        )
        return extensions.failure()

    async def wait_extensions_ready(self) -> Extension | None:
        """Until every registered extension has called next (the end of Init); closes
        registration. The first that reported an error instead, if one did."""
        extensions = self._extensions
        extensions.close_registration()
        await extensions.wait_until(extensions.settled)
        return extensions.failure()

    def declare_external_extensions(self, names: frozenset[str]) -> None:
        """The executables in /opt/extensions: registrations under these names are external."""
        self._extensions.declare_external(names)

    def extension_failure(self) -> Extension | None:
        return self._extensions.failure()

    def extensions(self) -> list[Extension]:
        return self._extensions.all()

    def shutdown_extensions(self, reason: str, deadline_ms: int) -> list[Extension]:
        """Send the SHUTDOWN event (spindown, timeout or failure); who it went to."""
        return self._extensions.dispatch_shutdown(reason, deadline_ms)

    async def invoke(self, invocation: Invocation) -> RuntimeResponse:
        """Hand `invocation` to the parked GET /next (or the next to arrive), and its INVOKE
        event to the extensions registered for it; return the runtime's result.

        Cancelling it before the runtime got the invocation withdraws it; after, the
        endpoint is ABANDONED and the environment must be destroyed. Raises
        EndpointBusyError, InitFailedError or EndpointClosedError when it cannot run.
        """
        if self._extensions.all():
            self._extensions.dispatch_invoke(invocation)
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
            extensions=len(self._extensions.all()),
            pooled_body_bytes=self._bodies.small,
            large_body=self._bodies.large is not None,
        )

    async def close(self) -> None:
        """Stop listening, drop every connection, fail every waiter. Idempotent."""
        self._lifecycle.close()
        self._extensions.close()
        await self.telemetry.close()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self._connections):
            # Abort, not close: a frozen or dead runtime would never drain a pending write.
            connection.abort()
        if server is not None:
            await server.wait_closed()

    def _connection(self) -> Connection:
        return Connection(
            self._router,
            self._connections,
            self._counters,
            self._max_response_bytes,
            self._lender,
            self._bodies,
        )
