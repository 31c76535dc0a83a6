"""The composition root: builds every component, wires them, runs them, stops them.

Reads top to bottom as the lifecycle: startup() -> main loop (the HTTP server) ->
shutdown() (stop intake, stop dispatching asynchronous events, shut environments down,
cancel the background loops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from ember.control.concurrency import ConcurrencyService
from ember.control.event_invoke import EventInvokeConfigs
from ember.control.layers import LayerService
from ember.invoke import Invoker
from ember.invoke.committer import GroupCommitter
from ember.invoke.dispatcher import Dispatcher
from ember.invoke.intake import EventIntake
from ember.invoke.provisioning import Provisioner
from ember.runtimes import RuntimeCatalog
from ember.sandbox import Isolation, IsolationUnavailableError
from ember.sandbox import capabilities as sandbox_host
from ember.scheduler import Scheduler
from ember.store import BlobStore, EventQueue, MetadataStore
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


class EmberServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        clock = SystemClock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.metadata = MetadataStore(settings.db_path)
        blobs = BlobStore(settings.blob_dir)
        self.catalog = RuntimeCatalog.discover(settings.interpreters)
        self.catalog.precompile()  # sandboxes see the runtime read-only: compile it now
        # What this host enforces, probed once; environments find the same object.
        self.sandbox = sandbox_host.probe(
            Isolation(settings.isolation), settings.data_dir / "sandbox"
        )
        self.logs = LogStore(settings.log_dir, clock)
        self.layers = LayerService(settings, self.metadata, blobs, clock)
        self.functions = FunctionService(
            settings, self.metadata, blobs, self.catalog, clock, layers=self.layers
        )
        self.aliases = AliasService(self.metadata, self.functions)
        self.concurrency = ConcurrencyService(
            settings, self.metadata, self.functions, self.aliases, clock
        )
        self.scheduler = Scheduler(settings, self.catalog, self.logs, clock, self.sandbox)
        self.invoker = Invoker(settings, self.functions, self.scheduler, clock, self.aliases)
        self.provisioner = Provisioner(
            self.functions, self.aliases, self.concurrency, self.scheduler, self.invoker
        )
        # Asynchronous invocation: durable queue -> group commits -> dispatcher -> invoker.
        self.queue = EventQueue(settings.queue_path)
        recovered = self.queue.recover()
        if recovered:
            log.warning(
                "%d asynchronous events were in flight at the last stop: rerunning", recovered
            )
        self.metrics = Metrics()
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
        self.app = EmberApp(
            settings, self.functions, self.invoker, self.logs, intake=intake,
            event_configs=self.event_configs, dispatcher=self.dispatcher, metrics=self.metrics,
            aliases=self.aliases, concurrency=self.concurrency, layers=self.layers,
        )  # fmt: skip

    async def serve(self) -> None:
        await self.layers.load()
        await self.functions.load()
        await self.aliases.load()
        await self.concurrency.load()
        await self.event_configs.load()
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
            ]
            await self.scheduler.wait_running()
            self.concurrency.replay()  # reserved limits and provisioned environments
            for folder in self.settings.deploy_dirs:
                names = await deploy_folder(self.functions, folder)
                print(
                    f"ember: deployed {', '.join(names) or 'nothing'} from {folder}",
                    file=sys.stderr,
                    flush=True,
                )
            self._announce()
            try:
                await http.serve()
            finally:
                await self.dispatcher.close()  # before the environments it invokes go
                await self.scheduler.close()
                for task in background:
                    task.cancel()
        self.queue.close()
        self.metadata.close()
        self.sandbox.close()

    def _announce(self) -> None:
        s = self.settings
        runtimes = ", ".join(self.catalog.names())
        print(
            f"ember: listening on http://{s.host}:{s.port} (data: {s.data_dir}; "
            f"runtimes: {runtimes}; {self.sandbox.summary()})",
            file=sys.stderr,
            flush=True,
        )


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
            lines.append(f"  runtimes: {', '.join(catalog.names())}")
            lines += [f"    python{v}: {p}" for v, p in sorted(catalog.interpreters().items())]
            return "\n".join(lines), all(g.held for g in host.guarantees())
        finally:
            host.close()


def run(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, on uvloop where it is installed."""
    logging.basicConfig(level=logging.WARNING, format="ember: %(name)s: %(message)s")
    try:
        server = EmberServer(settings)
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
