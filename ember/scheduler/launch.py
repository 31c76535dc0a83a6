"""What an environment's launch takes from the host, and gives back at shutdown: the Runtime
API's listener (at 127.0.0.1:9001 in a network namespace of its own, with the
host.ember.internal relays, where the host allows), the merged /opt of its layers, the
execution role's session, and from these the plan of its processes."""

from __future__ import annotations

import asyncio
import functools
import socket
from pathlib import Path

from ember.blocking import run_blocking
from ember.config import Settings
from ember.protocols import Session, SessionIssuer
from ember.runtime_api import RuntimeEndpoint
from ember.runtimes import RuntimeSpec
from ember.sandbox import Capabilities, network
from ember.sandbox.descriptors import Allowance
from ember.sandbox.network import HostAccess
from ember.sandbox.network_relay import Relay
from ember.sandbox.overlay import merged
from ember.scheduler import layout
from ember.scheduler.spec import EnvironmentSpec


class Launch:
    """One environment's: listen(), then plan(), and release() once it has stopped."""

    def __init__(
        self,
        endpoint: RuntimeEndpoint,
        runtime: RuntimeSpec,
        settings: Settings,
        bin_dir: Path,
        *,
        capabilities: Capabilities,
        host_access: HostAccess,
        credentials: SessionIssuer | None,
        opt_root: Path,
        allowance: Allowance | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._allowance = allowance  # the server's descriptors lent to relayed connections
        self._runtime = runtime
        self._settings = settings
        self._bin_dir = bin_dir
        self._opt_root = opt_root  # where merged /opt folders of layer lists are kept
        self._caps = capabilities
        self._host_access = host_access
        self._credentials = credentials  # issues the execution role's session
        self._session: Session | None = None
        self._netns: network.Namespace | None = None  # its own, when the host allows
        self._relay: Relay | None = None  # host.ember.internal's ports, inside the netns
        # A pre-started sandbox's namespace and its routes (scheduler.prestart), made with it.
        self._adopted: tuple[network.Namespace, dict[int, int]] | None = None

    def adopt(self, ns: network.Namespace, routes: dict[int, int]) -> None:
        """Listen in `ns` (owned from now on) instead of taking a namespace."""
        self._adopted = (ns, routes)

    async def listen(self) -> str:
        """Start the Runtime API: at 127.0.0.1:9001 in a network namespace of its own, with
        the host.ember.internal relays, where the host allows; else on the host's loopback.
        Its address; OSError when it cannot listen."""
        if not self._caps.network:
            return await self._endpoint.start()
        access = self._host_access

        pool = self._caps.netpool
        if self._adopted is not None:
            ns, routes = self._adopted
        elif pool is not None:  # one made ahead of time, used by this environment only
            routes = await run_blocking(access.routes) if access.all_ports else access.routes()
            ns = await pool.take(routes)
        else:

            def make() -> tuple[network.Namespace, dict[int, int]]:
                routes = access.routes()
                return network.create(routes, self._caps.outbound), routes

            ns, routes = await run_blocking(make)
        self._netns = ns
        # Telemetry API batches go to destinations inside the environment's namespace.
        self._endpoint.telemetry.set_connector(functools.partial(_connect_inside, ns.fd))
        address = await self._endpoint.start_on(ns.runtime_api)
        relays = {sock: routes[port] for port, sock in ns.relays.items()}
        self._relay = Relay(relays, allowance=self._allowance)
        await self._relay.start()
        return address

    async def plan(self, spec: EnvironmentSpec, address: str, stream: str) -> layout.Plan:
        """The processes to start for `spec`, its Runtime API at `address`, logging to
        `stream`; issues the role's session they carry."""
        opt_dir = None
        if spec.layer_paths:
            folder = await run_blocking(merged, spec.layer_paths, self._opt_root)
            opt_dir = str(folder)
        ctx = layout.Context(
            sandboxed=self._caps.namespaces,
            region=self._settings.region,
            bin_dir=self._bin_dir,
            opt_dir=opt_dir,
            address=address,
            stream=stream,
            netns=self._netns.fd if self._netns is not None else -1,
            hosts=self._caps.hosts if self._netns is not None else None,
            aws_endpoint=self._aws_endpoint(),
            credentials=self._issue_session(spec),
        )
        return await run_blocking(layout.plan, spec, self._runtime, ctx)

    def _aws_endpoint(self) -> str:
        """Ember's AWS API as the function reaches it (boto3's AWS_ENDPOINT_URL)."""
        if self._netns is not None and self._host_access.aws_port is not None:
            return f"http://{network.HOST_NAME}:{self._host_access.aws_port}"
        return self._settings.public_url

    def _issue_session(self, spec: EnvironmentSpec) -> dict[str, str]:
        """The execution role's credentials, good while this environment lives (12 h at
        most); revoked at release()."""
        if self._credentials is None:
            return {}
        self._session = self._credentials.issue(spec.function_name, spec.role)
        return self._session.variables()

    async def release(self) -> None:
        """The relays' listeners and connections, the namespace's fd, the role's session."""
        if self._relay is not None:
            await self._relay.close()
            self._relay = None
        if self._netns is not None:
            self._netns.close()
            self._netns = None
        elif self._adopted is not None:  # never listened in it
            self._adopted[0].close()
        self._adopted = None
        if self._session is not None and self._credentials is not None:
            self._credentials.revoke(self._session.access_key)


async def _connect_inside(
    netns: int, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to (host, port) as a process of the environment would open it: the
    socket is made inside its network namespace (a few microseconds on the loop)."""
    with network.entered(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)
