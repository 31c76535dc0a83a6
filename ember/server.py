"""The composition root: builds every component, wires them, runs them, stops them.

Reads top to bottom as the lifecycle: startup() -> main loop (the HTTP server) ->
shutdown() (stop intake, shut environments down, cancel the background loops).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

import uvicorn

from ember.api import EmberApp
from ember.clock import SystemClock
from ember.config import Settings
from ember.control import FunctionService
from ember.control.bundles import deploy_folder
from ember.invoke import Invoker
from ember.runtimes import RuntimeCatalog
from ember.scheduler import Scheduler
from ember.store import BlobStore, MetadataStore
from ember.telemetry import LogStore

log = logging.getLogger("ember.server")


class EmberServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        clock = SystemClock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.metadata = MetadataStore(settings.db_path)
        blobs = BlobStore(settings.blob_dir)
        self.catalog = RuntimeCatalog.discover(settings.interpreters)
        self.logs = LogStore(settings.log_dir, clock)
        self.functions = FunctionService(settings, self.metadata, blobs, self.catalog, clock)
        self.scheduler = Scheduler(settings, self.catalog, self.logs, clock)
        self.invoker = Invoker(settings, self.functions, self.scheduler, clock)
        self.app = EmberApp(settings, self.functions, self.invoker, self.logs)

    async def serve(self) -> None:
        await self.functions.load()
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
        http = uvicorn.Server(config)
        async with asyncio.TaskGroup() as tasks:
            background = [
                tasks.create_task(self.functions.run(), name="control-activation"),
                tasks.create_task(self.scheduler.run(), name="scheduler"),
            ]
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
                await self.scheduler.close()
                for task in background:
                    task.cancel()
        self.metadata.close()

    def _announce(self) -> None:
        s = self.settings
        runtimes = ", ".join(self.catalog.names())
        print(
            f"ember: listening on http://{s.host}:{s.port} (data: {s.data_dir}; "
            f"runtimes: {runtimes}; isolation: none, plain processes)",
            file=sys.stderr,
            flush=True,
        )


def run(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, on uvloop where it is installed."""
    logging.basicConfig(level=logging.WARNING, format="ember: %(name)s: %(message)s")
    server = EmberServer(settings)
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(server.serve())
