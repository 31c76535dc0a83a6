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
from typing import TYPE_CHECKING

import uvicorn

from ember.api import EmberApp
from ember.api.auth import Guard
from ember.api.httpserver import CoalescingHttpToolsProtocol
from ember.blocking import run_blocking
from ember.clock import SystemClock
from ember.config import Settings
from ember.console import Console, load_prices, provisioned_now
from ember.control import FunctionService
from ember.control.aliases import AliasService
from ember.control.bundles import deploy_folder
from ember.control.code_signing import CodeSigningConfigs
from ember.control.concurrency import ConcurrencyService
from ember.control.event_invoke import EventInvokeConfigs
from ember.control.keys import KIND as KEY_KIND
from ember.control.keys import AccessKeys
from ember.control.layers import LayerService
from ember.control.mappings import MappingService
from ember.control.model import LATEST, FunctionConfig
from ember.control.policies import PolicyService
from ember.control.recursion import RecursionConfigs
from ember.control.runtime_management import RuntimeManagementConfigs
from ember.control.tags import TagService
from ember.control.urls import FunctionUrls
from ember.doors import Doors
from ember.gateway.apis import ApiDoor, HttpApis, ManagementDoor
from ember.gateway.authorizers import AuthorizerEngine
from ember.gateway.iam import UrlSigner
from ember.gateway.urls import FunctionUrlDoor
from ember.invoke import Invoker
from ember.invoke.committer import GroupCommitter
from ember.invoke.dispatcher import Dispatcher
from ember.invoke.intake import EventIntake
from ember.invoke.provisioning import Provisioner
from ember.invoke.recursion import RecursionGuard
from ember.invoke.sinks import ServiceSinks
from ember.invoke.snapstart import SnapStarts
from ember.patterns import compile as compile_pattern
from ember.protocols import SessionIssuer
from ember.queues import QueueDoor, Queues
from ember.rules import PREFIX as EVENTS_PREFIX
from ember.rules import Rules, RulesDoor, ScheduleTimer
from ember.runtimes import RuntimeCatalog
from ember.sandbox import Isolation, IsolationUnavailableError, descriptors
from ember.sandbox import capabilities as sandbox_host
from ember.sandbox.network import HostAccess
from ember.scheduler import Reservations, Scheduler
from ember.sources import Pollers
from ember.sources.dynamodb import TableShards
from ember.sources.dynamodb import source_facts as table_stream_facts
from ember.sources.filtering import check_filter_pattern
from ember.sources.kinesis import KinesisShards
from ember.sources.kinesis import source_facts as stream_facts
from ember.sources.shards import StreamPollers
from ember.sources.sqs import SqsSource, source_facts
from ember.store import BlobStore, DataLayout, EventQueue, MetadataStore
from ember.store.segments import SegmentFiles
from ember.streams import PREFIX as KINESIS_PREFIX
from ember.streams import StreamDoor, Streams
from ember.tables import STREAMS_PREFIX as TABLE_STREAMS_PREFIX
from ember.tables import TABLES_PREFIX, TableDoor, Tables
from ember.telemetry import LogStore, Metrics, oplog
from ember.telemetry.metrics_cloudwatch import TARGET_PREFIX as CLOUDWATCH_PREFIX
from ember.telemetry.metrics_cloudwatch import CloudWatchDoor
from ember.telemetry.metrics_prometheus import PATH as PROMETHEUS_PATH
from ember.telemetry.metrics_prometheus import PrometheusDoor
from ember.telemetry.metrics_store import MetricsStore
from ember.topics import Topics, TopicsDoor

if TYPE_CHECKING:
    from ember.telemetry.otlp import OtlpTracer

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
        self.catalog = RuntimeCatalog.discover(
            settings.interpreters, nodes=settings.node_binaries, jdks=settings.jdks
        )
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
        # RecursiveLoop settings, and the hop counts of function -> queue/topic -> function
        # chains that pollers, topics and destinations consult (see invoke/recursion.py).
        self.recursion_configs = RecursionConfigs(self.metadata, self.functions)
        self.recursion = RecursionGuard(self.recursion_configs)
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
        # One-minute metrics: counted on the invoke path, written in batches (metrics.db).
        self.metrics = Metrics(
            clock, MetricsStore(layout.metrics), retention=settings.metrics_retention
        )
        self.scheduler = Scheduler(
            settings, self.catalog, self.logs, clock, self.sandbox, reservations,
            host_access=host_access, credentials=self.sessions,
            max_environments=self.descriptors.environments, bin_dir=layout.bin,
            opt_dir=layout.opt,
            # Their connections past their own share these descriptors, and no more.
            allowance=descriptors.Allowance(self.descriptors.connections),
            metrics=self.metrics,
        )  # fmt: skip
        self.invoker = Invoker(settings, self.functions, self.scheduler, clock, self.aliases)
        self.tracer: OtlpTracer | None = None
        if settings.otlp_endpoint:  # the OpenTelemetry SDK loads only when asked for
            from ember.telemetry.otlp import OtlpTracer

            self.tracer = self.invoker.tracer = OtlpTracer(
                settings.otlp_endpoint, region=settings.region
            )
        self.provisioner = Provisioner(
            self.functions, self.aliases, self.concurrency, self.scheduler, self.invoker
        )
        self.snapstarts = SnapStarts(self.functions, self.scheduler, self.invoker)
        # Asynchronous invocation: durable queue -> group commits -> dispatcher -> invoker.
        self.queue = EventQueue(layout.queue)
        recovered = self.queue.recover()
        if recovered:
            log.warning(
                "%d asynchronous events were in flight at the last stop: rerunning", recovered
            )
        self.functions.add_listener(self._forget_telemetry)
        self.committer = GroupCommitter(self.queue)
        self.event_configs = EventInvokeConfigs(
            settings, self.metadata, self.functions, self.aliases, clock
        )
        # Records and dead letters for queues and topics (connected once those are built).
        self.sinks = ServiceSinks()
        self.dispatcher = Dispatcher(
            settings, self.committer, self.invoker, self.functions, self.event_configs,
            self.metrics, clock, sinks=self.sinks,
        )  # fmt: skip
        intake = EventIntake(
            self.invoker, self.committer, self.metrics, clock, self.dispatcher.wake
        )
        # SQS-compatible queues (door mounted below); sources, topics and destinations use
        # them in process.
        self.queues = Queues(settings, layout.queues, clock)
        # Kinesis-compatible streams (door mounted below); stream mappings read them in process.
        self.streams = Streams(settings, layout.streams, clock)
        # DynamoDB-compatible tables with streams (door mounted below); table-stream mappings.
        self.tables = Tables(layout.root / "tables.db", clock, region=settings.region,
                             account=settings.account_id)  # fmt: skip
        # AWS/SQS depth gauges (visible, in flight, delayed), sampled at each metrics write.
        self.metrics.sample_queues(
            lambda: {n: self.queues.queue(n).counts(clock.wall()) for n in self.queues.names()}
        )
        # Event source mappings (control) and their pollers (sources): queue -> function.
        self.mappings = MappingService(
            self.metadata, self.functions, self.aliases, clock, region=settings.region,
            account=settings.account_id, sources=lambda arn: (
                stream_facts(self.streams, arn) if arn.startswith("arn:aws:kinesis:")
                else table_stream_facts(self.tables, arn) if arn.startswith("arn:aws:dynamodb:")
                else source_facts(self.queues, arn)
            ),
            check_pattern=check_filter_pattern,
        )  # fmt: skip
        self.pollers = Pollers(
            self.mappings, self.invoker, self.concurrency, clock,
            sources=lambda m: SqsSource(self.queues, m.source_arn, settings.region, clock),
            compile_pattern=compile_pattern, account_limit=settings.concurrency_limit,
            recursion=self.recursion,
            streams=StreamPollers(  # Kinesis mappings: shard-ordered pollers
                {"kinesis": KinesisShards(self.streams),
                 "dynamodb": TableShards(self.tables, clock)}, self.invoker, clock,
                compile_pattern=compile_pattern,
                role=lambda name: self.functions.get(name).role, sink=self.sinks,
                region=settings.region, observe=self.metrics.observe, mappings=self.mappings,
            ),
        )  # fmt: skip
        # Code-signing configs and runtime management configs: stored and reported.
        self.signing = CodeSigningConfigs(settings, self.metadata, self.functions, clock)
        self.runtime_configs = RuntimeManagementConfigs(self.metadata, self.functions)
        # Resource policies (the front doors ask them) and tags.
        self.policies = PolicyService(settings, self.metadata, self.functions, self.aliases)
        self.tags = TagService(settings, self.metadata, self.functions)
        # Event source mappings are taggable by their EventSourceMappingArn.
        self.tags.register_kind(
            "event-source-mapping", lambda arn: self.mappings.find(arn.split(":")[-1]) is not None
        )
        # Function URL configs (served by Host below, see gateway/urls.py).
        self.urls = FunctionUrls(self.metadata, self.functions, self.aliases, clock)
        self.app = EmberApp(
            settings, self.functions, self.invoker, self.logs, intake=intake,
            signing=self.signing, runtime_configs=self.runtime_configs,
            event_configs=self.event_configs, dispatcher=self.dispatcher, metrics=self.metrics,
            aliases=self.aliases, concurrency=self.concurrency, layers=self.layers, clock=clock,
            policies=self.policies, tags=self.tags, urls=self.urls,
            recursion=self.recursion_configs,
            mappings=self.mappings,
        )  # fmt: skip
        # What uvicorn runs: each request to the service that serves it (ember/doors.py),
        # past the SigV4 guard (signatures; environments' credentials and their scope).
        self.doors = Doors(
            self.app, Guard(settings, clock, self.keys, self.sessions), environment_port=door_port
        )
        self.doors.by_host("lambda-url", FunctionUrlDoor(
            settings, self.urls, self.invoker, clock, policy=self.policies,
            signer=UrlSigner(settings, clock, self.keys, self.sessions),
        ))  # fmt: skip
        # HTTP APIs: managed under /v2/ (behind the guard), served by Host.
        self.http_apis = HttpApis(
            self.metadata, clock, region=settings.region, account=settings.account_id,
            domain=settings.domain, port=settings.port,
        )  # fmt: skip
        self.api_door = ApiDoor(
            self.http_apis, self.invoker, clock, permissions=self.policies,
            authorizers=AuthorizerEngine(
                self.invoker, clock, region=settings.region, account=settings.account_id,
                permissions=self.policies,
            ),
            signer=UrlSigner(settings, clock, self.keys, self.sessions, service="execute-api"),
        )  # fmt: skip
        self.doors.by_path("/v2/", ManagementDoor(self.http_apis))
        self.doors.by_host("execute-api", self.api_door)
        # EventBridge's default bus: rules, targets, PutEvents; the timer fires schedules.
        self.rules = Rules(settings, self.metadata, intake, clock)
        self.schedules = ScheduleTimer(settings, self.rules, clock)
        self.doors.by_target(EVENTS_PREFIX, RulesDoor(self.rules))
        # SNS topics (the query protocol's door); rules deliver to queues and topics too.
        self.topics = Topics(
            settings, self.metadata, intake, clock, self.queues, recursion=self.recursion
        )
        self.doors.by_form(TopicsDoor(self.topics))
        self.sinks.connect(self.queues.send, self.topics.publish)
        self.rules.add_sink("arn:aws:sqs:", self._rule_to_queue)
        self.rules.add_sink("arn:aws:sns:", self._rule_to_topic)
        self.doors.by_target("AmazonSQS.", QueueDoor(self.queues))
        self.doors.by_target(KINESIS_PREFIX, StreamDoor(self.streams))  # Kinesis data streams
        self.doors.by_target(TABLES_PREFIX, TableDoor(self.tables))  # DynamoDB
        self.doors.by_target(TABLE_STREAMS_PREFIX, TableDoor(self.tables))  # DynamoDB Streams
        # CloudWatch (GetMetricStatistics, GetMetricData, ListMetrics) and Prometheus.
        self.doors.by_target(CLOUDWATCH_PREFIX, CloudWatchDoor(self.metrics))
        self.doors.by_path(PROMETHEUS_PATH, PrometheusDoor(self.metrics), unsigned_on_loopback=True)
        # The web console (browsers cannot sign: unsigned from loopback only under sigv4) and
        # the cost report; provisioned environment-seconds are sampled for it.
        self.console = Console(
            settings, clock, load_prices(), functions=self.functions, aliases=self.aliases,
            invoker=self.invoker, dispatcher=self.dispatcher, logs=self.logs,
            metrics=self.metrics, urls=self.urls, mappings=self.mappings,
        )  # fmt: skip
        self.doors.by_home(self.console.door)
        self.doors.by_path("/console", self.console.door, unsigned_on_loopback=True)
        self.doors.by_path("/_ember/cost", self.console.door)
        self.metrics.sample_provisioned(lambda: provisioned_now(self.functions, self.concurrency))

    async def serve(self) -> None:
        await self.layers.load()
        await self.functions.load()
        await self.aliases.load()
        await self.concurrency.load()
        await self.event_configs.load()
        await self.signing.load()
        await self.runtime_configs.load()
        await self.policies.load()  # after functions and aliases: drops orphans
        await self.urls.load()
        await self.tags.load()
        await self.recursion_configs.load()
        await self.rules.load()
        await self.topics.load()
        await self.http_apis.load()
        await self.mappings.load()
        config = uvicorn.Config(
            self.doors,
            host=self.settings.host,
            port=self.settings.port,
            http=CoalescingHttpToolsProtocol,  # httptools; a response in one write
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
                tasks.create_task(self.logs.run_expiry(), name="log-retention"),
                tasks.create_task(self.snapstarts.run(), name="snapstart"),
                tasks.create_task(self.committer.run(), name="queue-commits"),
                tasks.create_task(self.dispatcher.run(), name="async-dispatcher"),
                tasks.create_task(self.logs.run(), name="log-writer"),
                tasks.create_task(self.metrics.run(), name="metrics-writer"),
                tasks.create_task(self.schedules.run(), name="schedules"),
                tasks.create_task(self.queues.run(), name="queues"),
                tasks.create_task(self.streams.run(), name="streams"),
                tasks.create_task(self.tables.run(), name="tables"),
                tasks.create_task(self.pollers.run(), name="event-source-pollers"),
            ]
            if self.sandbox.scratch is not None:  # /tmp filesystems made ahead of cold starts
                background.append(tasks.create_task(self.sandbox.scratch.run(), name="scratch"))
            if self.sandbox.netpool is not None:  # network namespaces made ahead, likewise
                background.append(tasks.create_task(self.sandbox.netpool.run(), name="netns"))
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
                await self.api_door.close()  # integrations that outlived their timeout
                await self.pollers.close()  # in-flight batches finish, then no more
                await self.dispatcher.close()  # before the environments it invokes go
                await self.scheduler.close()
                await self.metrics.close()  # the last invocations' points, then the file
                await self.logs.close()  # the environments' last lines, then the files
                if self.tracer is not None:
                    await run_blocking(self.tracer.close)  # the spans still buffered
                for task in background:
                    task.cancel()
        self.queue.close()
        self.queues.close()
        self.streams.close()
        self.tables.close()
        self.metadata.close()
        self.sandbox.close()

    async def _rule_to_queue(self, arn: str, payload: bytes) -> None:
        await self.queues.send(arn, payload.decode())

    async def _rule_to_topic(self, arn: str, payload: bytes) -> None:
        await self.topics.publish(arn, payload.decode())

    def _forget_telemetry(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        """A deleted function's log group, streams and metrics go with it."""
        if old is not None and new is None and old.version == LATEST:
            # A LoggingConfig group of the user's own choosing stays, as on AWS.
            self.logs.forget_function(f"/aws/lambda/{old.name}")
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
        print(f"ember: {self.catalog.java_summary()}", file=sys.stderr, flush=True)

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
            lines.append(f"  {catalog.java_summary()}")
            lines += [f"    python{v}: {p}" for v, p in sorted(catalog.interpreters().items())]
            lines += [f"    node {v}: {p}" for v, p in sorted(catalog.nodes().items())]
            return "\n".join(lines), all(g.held for g in host.guarantees())
        finally:
            host.close()


def run(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, on uvloop where it is installed."""
    oplog.configure(settings.log_level, settings.log_format)
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
