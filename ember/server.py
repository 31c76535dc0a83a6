"""The composition root: builds every component, wires them, runs them, stops them.

Reads top to bottom as the lifecycle: startup() -> main loop (the HTTP server) ->
shutdown() (stop intake, stop dispatching asynchronous events, shut environments down,
cancel the background loops).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from ember.api import EmberApp
from ember.clock import SystemClock
from ember.config import Settings
from ember.control import FunctionService
from ember.control.aliases import AliasService
from ember.control.bundles import deploy_folder
from ember.control.code_signing import CodeSigningConfigs
from ember.control.concurrency import ConcurrencyService
from ember.control.event_invoke import EventInvokeConfigs
from ember.control.keys import KIND as KEY_KIND
from ember.control.keys import AccessKeys
from ember.control.layers import LayerService
from ember.control.model import LATEST, FunctionConfig
from ember.control.runtime_management import RuntimeManagementConfigs
from ember.invoke import Invoker
from ember.invoke.committer import GroupCommitter
from ember.invoke.dispatcher import Dispatcher
from ember.invoke.intake import EventIntake
from ember.invoke.provisioning import Provisioner
from ember.protocols import SessionIssuer
from ember.runtimes import RuntimeCatalog
from ember.sandbox import Isolation, IsolationUnavailableError, descriptors
from ember.sandbox import capabilities as sandbox_host
from ember.sandbox.network import HostAccess
from ember.scheduler import Reservations, Scheduler
from ember.store import BlobStore, DataLayout, EventQueue, MetadataStore
from ember.store.segments import SegmentFiles
from ember.telemetry import LogStore, Metrics

log = logging.getLogger("ember.server")


class _HTTPServer(uvicorn.Server):
    """uvicorn, without re-raising SIGTERM/SIGINT once serve() returns: that would end the
    process before the environments' Shutdown phase (and leave sandboxes running)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def listen(settings: Settings) -> tuple[socket.socket, Settings]:
    """The API's socket, bound before anything is built, and the settings with the port
    it got: with `--port 0` the system picks one, and everything that names Ember's
    address (AWS_ENDPOINT_URL, code links, the environments' relay, the start-up line)
    must name that one. Raises OSError when the address cannot be had."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.create_server((settings.host, settings.port), family=family)
    return sock, dataclasses.replace(settings, port=sock.getsockname()[1])


class EmberServer:
    def __init__(self, settings: Settings, listener: socket.socket) -> None:
        """`settings` name the port `listener` has (see listen())."""
        self.listener = listener
        self.settings = settings
        clock = SystemClock()
        # Before anything opens a file: every environment holds ~8 descriptors.
        self.descriptors = descriptors.raise_limit()
        if self.descriptors.environments < settings.concurrency_limit:
            log.warning(
                "%s, fewer than the concurrency limit (%d): more are refused with "
                "TooManyRequestsException (raise `ulimit -Hn`)",
                self.descriptors.summary(),
                settings.concurrency_limit,
            )
        # Where everything lives in the data dir (only `store` knows the names).
        layout = DataLayout.at(settings.data_dir)
        layout.root.mkdir(parents=True, exist_ok=True)
        self.metadata = MetadataStore(layout.metadata)
        blobs = BlobStore(layout.blobs)
        self.catalog = RuntimeCatalog.discover(settings.interpreters)
        self.catalog.precompile()  # sandboxes see the runtime read-only: compile it now
        # What this host enforces, probed once; environments find the same object.
        self.sandbox = sandbox_host.probe(
            Isolation(settings.isolation),
            layout.sandbox,
            outbound=settings.network_outbound,
            pids_total=settings.pids_total,  # all environments' processes together
        )
        self.logs = LogStore(SegmentFiles(layout.logs), clock, settings.function_log_limit)
        self.layers = LayerService(settings, self.metadata, blobs, clock, layout=layout)
        self.functions = FunctionService(
            settings, self.metadata, blobs, self.catalog, clock, layout=layout, layers=self.layers
        )
        self.aliases = AliasService(self.metadata, self.functions)
        # Reserved and provisioned concurrency: control writes this one table, the
        # scheduler reads it on each invocation.
        reservations = Reservations(settings.concurrency_limit)
        self.concurrency = ConcurrencyService(
            reservations, self.metadata, self.functions, self.aliases, clock
        )
        # The environment door: Ember's API as functions reach it. host.ember.internal:<port>
        # inside their namespaces leads here, never to the public socket (the auth guard checks the
        # environment's own credentials on it).
        self.door = socket.create_server(("127.0.0.1", 0))
        door_port: int = self.door.getsockname()[1]
        host_access = HostAccess(
            ports={**{port: port for port in settings.host_access}, settings.port: door_port},
            all_ports=settings.host_access_all,
            excluded=frozenset({settings.port, door_port}),
            aws_port=settings.port,
        )
        # Who may call: keys from `ember keys`; environments' temporary credentials.
        self.keys = AccessKeys(self.metadata, clock)
        self.sessions = SessionIssuer(clock, settings.account_id)
        self.scheduler = Scheduler(
            settings, self.catalog, self.logs, clock, self.sandbox, reservations,
            host_access=host_access, credentials=self.sessions,
            max_environments=self.descriptors.environments, bin_dir=layout.bin,
            opt_dir=layout.opt,
            # Their connections past their own share these descriptors, and no more.
            allowance=descriptors.Allowance(self.descriptors.connections),
        )  # fmt: skip
        self.invoker = Invoker(settings, self.functions, self.scheduler, clock, self.aliases)
        self.provisioner = Provisioner(
            self.functions, self.aliases, self.concurrency, self.scheduler, self.invoker
        )
        # Asynchronous invocation: durable queue -> group commits -> dispatcher -> invoker.
        self.queue = EventQueue(layout.queue)
        recovered = self.queue.recover()
        if recovered:
            log.warning(
                "%d asynchronous events were in flight at the last stop: rerunning", recovered
            )
        self.metrics = Metrics()
        self.functions.add_listener(self._forget_telemetry)
        self.committer = GroupCommitter(self.queue)
        self.event_configs = EventInvokeConfigs(
            settings, self.metadata, self.functions, self.aliases, clock
        )
        self.dispatcher = Dispatcher(
            settings, self.committer, self.invoker, self.functions, self.event_configs,
            self.metrics, clock,
        )  # fmt: skip
        intake = EventIntake(
            self.invoker, self.committer, self.metrics, clock, self.dispatcher.wake
        )
        # Code-signing configs and runtime management configs: stored and reported.
        self.signing = CodeSigningConfigs(settings, self.metadata, self.functions, clock)
        self.runtime_configs = RuntimeManagementConfigs(self.metadata, self.functions)
        self.app = EmberApp(
            settings, self.functions, self.invoker, self.logs, intake=intake,
            signing=self.signing, runtime_configs=self.runtime_configs,
            event_configs=self.event_configs, dispatcher=self.dispatcher, metrics=self.metrics,
            aliases=self.aliases, concurrency=self.concurrency, layers=self.layers,
            environment_port=door_port, clock=clock, keys=self.keys, sessions=self.sessions,
        )  # fmt: skip

    async def serve(self) -> None:
        await self.layers.load()
        await self.functions.load()
        await self.aliases.load()
        await self.concurrency.load()
        await self.event_configs.load()
        await self.signing.load()
        await self.runtime_configs.load()
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            http="httptools",
            loop="none",  # the loop is ours (uvloop, see run())
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        http = _HTTPServer(config)
        async with asyncio.TaskGroup() as tasks:
            background = [
                tasks.create_task(self.functions.run(), name="control-activation"),
                tasks.create_task(self.scheduler.run(), name="scheduler"),
                tasks.create_task(self.committer.run(), name="queue-commits"),
                tasks.create_task(self.dispatcher.run(), name="async-dispatcher"),
                tasks.create_task(self.logs.run(), name="log-writer"),
            ]
            if self.sandbox.scratch is not None:  # /tmp filesystems made ahead of cold starts
                background.append(tasks.create_task(self.sandbox.scratch.run(), name="scratch"))
            await self.scheduler.wait_running()
            self.concurrency.replay()  # provisioned environments
            for folder in self.settings.deploy_dirs:
                names = await deploy_folder(self.functions, folder)
                print(
                    f"ember: deployed {', '.join(names) or 'nothing'} from {folder}",
                    file=sys.stderr,
                    flush=True,
                )
            self._announce()
            try:
                await http.serve(sockets=[self.listener, self.door])
            finally:
                await self.dispatcher.close()  # before the environments it invokes go
                await self.scheduler.close()
                await self.logs.close()  # the environments' last lines, then the files
                for task in background:
                    task.cancel()
        self.queue.close()
        self.metadata.close()
        self.sandbox.close()

    def _forget_telemetry(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        """A deleted function's log group, streams and metrics go with it."""
        if old is not None and new is None and old.version == LATEST:
            self.logs.forget_function(old.log_group)
            self.metrics.forget(old.name)

    def _announce(self) -> None:
        s = self.settings
        runtimes = ", ".join(self.catalog.names())
        print(
            f"ember: listening on http://{s.host}:{s.port} (data: {s.data_dir}; "
            f"runtimes: {runtimes}; {self.sandbox.summary()}; auth: {self._auth_summary()})",
            file=sys.stderr,
            flush=True,
        )
        print(f"ember: {self.catalog.sdk_summary()}", file=sys.stderr, flush=True)

    def _auth_summary(self) -> str:
        s = self.settings
        if s.auth == "sigv4":
            count = len(self.metadata.load(KEY_KIND))
            return f"sigv4 ({count} access key{'s' if count != 1 else ''}; `ember keys create`)"
        if s.on_loopback:
            return "none (open on loopback)"
        return f"none (OPEN to anyone who reaches {s.host}:{s.port})"


def doctor(isolation: str) -> tuple[str, bool]:
    """`ember doctor`: which guarantees this host allows in `isolation` mode, as a report,
    and whether all of them hold."""
    with tempfile.TemporaryDirectory(prefix="ember-doctor-") as state:
        try:
            host = sandbox_host.probe(Isolation(isolation), Path(state))
        except IsolationUnavailableError as exc:
            return f"ember doctor: {exc}", False
        try:
            catalog = RuntimeCatalog.discover()
            lines = [f"ember doctor: {host.summary()}"]
            lines += [
                f"  [{'ok' if g.held else '--'}] {g.what}: {g.how}" for g in host.guarantees()
            ]
            lines.append(f"  {descriptors.current().summary()} (ember serve raises it)")
            lines.append(f"  runtimes: {', '.join(catalog.names())}")
            lines.append(f"  {catalog.sdk_summary()}")
            lines += [f"    python{v}: {p}" for v, p in sorted(catalog.interpreters().items())]
            return "\n".join(lines), all(g.held for g in host.guarantees())
        finally:
            host.close()


def run(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, on uvloop where it is installed."""
    logging.basicConfig(level=logging.WARNING, format="ember: %(name)s: %(message)s")
    try:
        listener, settings = listen(settings)
    except OSError as exc:
        print(f"ember: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
              file=sys.stderr, flush=True)  # fmt: skip
        sys.exit(1)
    try:
        server = EmberServer(settings, listener)
    except IsolationUnavailableError as exc:
        print(f"ember: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(server.serve())
