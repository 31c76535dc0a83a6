"""`ember serve` and `ember doctor`: run the server on this host, and say what this host
lets it enforce."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ember.cli.output import fail


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9001, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--data-dir",
    default=".ember",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where functions, code and logs are kept.",
)
@click.option(
    "--idle-timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds an environment may stay idle before it is shut down.",
)
@click.option(
    "--init-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds the Init phase may take (Lambda: 10).",
)
@click.option(
    "--shutdown-grace",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Seconds between SIGTERM and SIGKILL when an environment shuts down.",
)
@click.option(
    "--concurrency-limit",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="The account's concurrent executions limit (Lambda's default quota: 1000).",
)
@click.option(
    "--scale-limit",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="New environments one function may start per 10 seconds.",
)
@click.option("--region", default="us-east-1", show_default=True)
@click.option(
    "--python",
    "pythons",
    multiple=True,
    metavar="VERSION=PATH",
    help="Use this interpreter for a Python runtime, e.g. 3.12=/usr/bin/python3.12.",
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    metavar="MAJOR=PATH",
    help="Use this node binary for a Node.js runtime, e.g. 22=/opt/node22/bin/node.",
)
@click.option(
    "--java",
    "javas",
    multiple=True,
    metavar="MAJOR=PATH",
    help="Use this `java` for a Java runtime, e.g. 21=/usr/lib/jvm/java-21/bin/java.",
)
@click.option(
    "--deploy",
    "deploy_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Deploy every function folder (with a function.json) under this folder at start.",
)
@click.option(
    "--async-delay-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0, min_open=True),
    help="Multiply every asynchronous-invocation delay (retries, backoff, maximum event age), "
    "e.g. 0.01 to run Lambda's minutes-long retry schedule in seconds.",
)
@click.option(
    "--schedule-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0, min_open=True),
    help="Multiply EventBridge rate(...) schedule periods, e.g. 0.02 to fire rate(1 minute) "
    "every 1.2 s (tests).",
)
@click.option(
    "--async-concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Asynchronous events invoked at once, across all functions.",
)
@click.option(
    "--function-log-limit",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="MB",
    help="Log kept per function (log group); past it the oldest events are removed.",
)
@click.option(
    "--metrics-retention",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="DAYS",
    help="How long one-minute metric points are kept.",
)
@click.option(
    "--isolation",
    type=click.Choice(["auto", "bwrap", "none"]),
    default="auto",
    show_default=True,
    help="auto: the best this host offers (see `ember doctor`); bwrap: refuse to start "
    "without bubblewrap; none: plain processes without limits (benchmarks, debugging).",
)
@click.option(
    "--host-access",
    "host_access",
    multiple=True,
    metavar="PORT|all",
    help="Let sandboxed functions reach this port of the host's loopback as "
    "host.ember.internal:PORT (repeatable; `all`: every port listening on 127.0.0.1 when an "
    "environment starts, except Ember's own).",
)
@click.option(
    "--network-outbound",
    "network_outbound",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="on: sandboxed functions reach the outside through NAT, as on Lambda without a VPC "
    "(never the host itself or other environments; root only); off: no way out.",
)
@click.option(
    "--auth",
    type=click.Choice(["sigv4", "none"]),
    default=None,
    help="sigv4: every request must be signed with a key from `ember keys create` (SigV4, "
    "as AWS checks it); none: open. Default: none on a loopback address; any other address "
    "needs one of them said explicitly.",
)
@click.option(
    "--domain",
    default="localhost",
    show_default=True,
    help="Domain of function URLs (http://<id>.lambda-url.<region>.<domain>:<port>/) and HTTP "
    "APIs (http://<id>.execute-api.<domain>:<port>/); with a wildcard DNS record for it, they "
    "work from other machines.",
)
@click.option(
    "--log-level",
    "log_level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Ember's own log on stderr (the functions' logs are in their log groups).",
)
@click.option(
    "--log-format",
    "log_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object a line (time, level, logger, message) for a log shipper.",
)
@click.option(
    "--otlp-endpoint",
    "otlp_endpoint",
    default="",
    help="OpenTelemetry collector (OTLP over HTTP, e.g. http://127.0.0.1:4318) to export the "
    "spans of sampled invocations to (TracingConfig Active, or a caller's Sampled=1).",
)
@click.option(
    "--pids-total",
    "pids_total",
    type=click.IntRange(min=1),
    default=None,
    hidden=True,  # tests: a small total, to reach it without exhausting the host
    help="Processes and threads all environments may have together.",
)
@click.option(
    "--prestart",
    "prestart",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Sandboxes kept started per Python runtime for its cold starts to take (0: off); "
    "bubblewrap as root only.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    idle_timeout: float,
    init_timeout: float,
    shutdown_grace: float,
    concurrency_limit: int,
    scale_limit: int,
    region: str,
    pythons: tuple[str, ...],
    nodes: tuple[str, ...],
    javas: tuple[str, ...],
    deploy_dirs: tuple[Path, ...],
    async_delay_scale: float,
    schedule_scale: float,
    async_concurrency: int,
    function_log_limit: int,
    metrics_retention: float,
    isolation: str,
    host_access: tuple[str, ...],
    network_outbound: str,
    auth: str | None,
    pids_total: int | None,
    prestart: int,
    domain: str,
    otlp_endpoint: str,
    log_level: str,
    log_format: str,
) -> None:
    """Run the Ember server (Lambda API, Runtime API, environments) in the foreground."""
    from ember.config import Settings
    from ember.server import run

    if auth is None:
        if not Settings(host=host).on_loopback:
            fail(
                f"refusing to serve on {host} without authentication: anyone who reaches it "
                "could run code here. Use --auth sigv4 (with keys from `ember keys create`), "
                "or --auth none to serve it open anyway."
            )
        auth = "none"

    ports: list[int] = []
    for item in host_access:
        if item == "all":
            continue
        if not item.isdigit() or not 0 < int(item) < 65536:
            fail(f"--host-access wants a port (1-65535) or `all`, got {item!r}")
        ports.append(int(item))

    interpreters = []
    for item in pythons:
        version, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            fail(f"--python wants VERSION=PATH with an existing interpreter, got {item!r}")
        interpreters.append((version.removeprefix("python"), path))
    node_binaries = []
    for item in nodes:
        major, sep, path = item.partition("=")
        major = major.removeprefix("nodejs").removesuffix(".x")
        if not sep or not major.isdigit() or not Path(path).is_file():
            fail(f"--node wants MAJOR=PATH with an existing node binary, got {item!r}")
        node_binaries.append((major, path))
    jdks = []
    for item in javas:
        major, sep, path = item.partition("=")
        major = major.removeprefix("java")
        if not sep or not major.isdigit() or not Path(path).is_file():
            fail(f"--java wants MAJOR=PATH with an existing java binary, got {item!r}")
        jdks.append((major, path))
    run(
        Settings(
            host=host,
            port=port,
            data_dir=data_dir.resolve(),  # bwrap and environments run elsewhere: no relative paths
            idle_timeout=idle_timeout,
            init_timeout=init_timeout,
            shutdown_grace=shutdown_grace,
            concurrency_limit=concurrency_limit,
            scale_limit=scale_limit,
            region=region,
            interpreters=tuple(interpreters),
            node_binaries=tuple(node_binaries),
            jdks=tuple(jdks),
            deploy_dirs=deploy_dirs,
            async_delay_scale=async_delay_scale,
            schedule_scale=schedule_scale,
            async_concurrency=async_concurrency,
            function_log_limit=function_log_limit << 20,
            metrics_retention=metrics_retention * 86400.0,
            isolation=isolation,
            host_access=tuple(sorted(set(ports))),
            host_access_all="all" in host_access,
            network_outbound=network_outbound == "on",
            auth=auth,
            pids_total=pids_total,
            prestart=prestart,
            domain=domain.strip(".").lower(),
            otlp_endpoint=otlp_endpoint,
            log_level=log_level,
            log_format=log_format,
        )
    )


@click.command()
@click.option(
    "--isolation",
    type=click.Choice(["auto", "bwrap", "none"]),
    default="auto",
    show_default=True,
    help="The mode to check, as `ember serve --isolation` takes it.",
)
def doctor(isolation: str) -> None:
    """Say which of Lambda's isolation and resource guarantees this host lets Ember enforce
    (exit 1 if any does not hold)."""
    from ember.server import doctor as host_report

    report, complete = host_report(isolation)
    click.echo(report)
    if not complete:
        sys.exit(1)
