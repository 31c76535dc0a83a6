"""`ember`: serve, deploy, invoke, logs, ls, queue, metrics."""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from ember.cli.client import ApiError, LambdaClient
from ember.control.codezip import zip_folder

DEFAULT_ENDPOINT = "http://127.0.0.1:9001"
ROLE = "arn:aws:iam::000000000000:role/ember"


def fail(message: str) -> NoReturn:
    click.echo(f"ember: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--endpoint",
    default=DEFAULT_ENDPOINT,
    envvar="EMBER_ENDPOINT",
    show_default=True,
    help="The Ember server the client commands talk to.",
)
@click.pass_context
def cli(ctx: click.Context, endpoint: str) -> None:
    """Ember: run AWS Lambda functions on your own machine."""
    ctx.obj = LambdaClient(endpoint)


@cli.command()
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
    "--async-concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Asynchronous events invoked at once, across all functions.",
)
@click.option(
    "--isolation",
    type=click.Choice(["auto", "bwrap", "none"]),
    default="auto",
    show_default=True,
    help="auto: the best this host offers (see `ember doctor`); bwrap: refuse to start "
    "without bubblewrap; none: plain processes without limits (benchmarks, debugging).",
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
    deploy_dirs: tuple[Path, ...],
    async_delay_scale: float,
    async_concurrency: int,
    isolation: str,
) -> None:
    """Run the Ember server (Lambda API, Runtime API, environments) in the foreground."""
    from ember.config import Settings
    from ember.server import run

    interpreters = []
    for item in pythons:
        version, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            fail(f"--python wants VERSION=PATH with an existing interpreter, got {item!r}")
        interpreters.append((version.removeprefix("python"), path))
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
            deploy_dirs=deploy_dirs,
            async_delay_scale=async_delay_scale,
            async_concurrency=async_concurrency,
            isolation=isolation,
        )
    )


@cli.command()
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


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _wait_updated(client: LambdaClient, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        config: dict[str, Any] = client.call("GET", f"/2015-03-31/functions/{name}/configuration")
        if config.get("LastUpdateStatus") != "InProgress" and config.get("State") != "Pending":
            return config
        if time.monotonic() > deadline:
            fail(f"{name} is still being updated after 60 s")
        time.sleep(0.05)


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="The function's name.")
@click.option("--handler", required=True, help="module.function, e.g. app.handler.")
@click.option("--runtime", default="python3.12", show_default=True)
@click.option("--memory", type=int, help="MemorySize in MB (128-10240).")
@click.option("--timeout", type=int, help="Timeout in seconds (1-900).")
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE")
@click.pass_obj
def deploy(
    client: LambdaClient,
    folder: Path,
    name: str,
    handler: str,
    runtime: str,
    memory: int | None,
    timeout: int | None,
    env_pairs: tuple[str, ...],
) -> None:
    """Zip FOLDER and create the function, or update its code and configuration."""
    package = zip_folder(folder)
    settings: dict[str, Any] = {"Handler": handler, "Runtime": runtime}
    if memory is not None:
        settings["MemorySize"] = memory
    if timeout is not None:
        settings["Timeout"] = timeout
    if env_pairs:
        settings["Environment"] = {"Variables": _parse_env(env_pairs)}
    try:
        try:
            client.call("GET", f"/2015-03-31/functions/{name}/configuration")
            exists = True
        except ApiError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            exists = False
        if exists:
            client.call(
                "PUT",
                f"/2015-03-31/functions/{name}/code",
                {"ZipFile": base64.b64encode(package).decode()},
            )
            _wait_updated(client, name)
            client.call("PUT", f"/2015-03-31/functions/{name}/configuration", settings)
            verb = "updated"
        else:
            client.call(
                "POST",
                "/2015-03-31/functions",
                {
                    "FunctionName": name,
                    "Role": ROLE,
                    "Code": {"ZipFile": base64.b64encode(package).decode()},
                    **settings,
                },
            )
            verb = "created"
        config = _wait_updated(client, name)
    except ApiError as exc:
        fail(str(exc))
    click.echo(f"{verb} {config['FunctionArn']} ({config['CodeSize']} bytes, {config['State']})")


@cli.command()
@click.argument("name")
@click.argument("payload", default="{}")
@click.option("--log", "show_log", is_flag=True, help="Print the invocation's log tail.")
@click.pass_obj
def invoke(client: LambdaClient, name: str, payload: str, show_log: bool) -> None:
    """Invoke NAME synchronously with the JSON PAYLOAD and print the result."""
    headers = {"x-amz-log-type": "Tail"} if show_log else {}
    try:
        resp = client.request(
            "POST", f"/2015-03-31/functions/{name}/invocations", payload.encode(), headers
        )
    except ApiError as exc:
        fail(str(exc))
    if show_log and "x-amz-log-result" in resp.headers:
        click.echo(base64.b64decode(resp.headers["x-amz-log-result"]).decode(), err=True)
    click.echo(resp.body.decode())
    if "x-amz-function-error" in resp.headers:
        sys.exit(1)


@cli.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events.")
@click.option("--since", default=3600.0, show_default=True, help="Seconds of history to show.")
@click.pass_obj
def logs(client: LambdaClient, name: str, follow: bool, since: float) -> None:
    """Show the log events of function NAME (all its environments' streams)."""
    group = f"/aws/lambda/{name}"
    start = int((time.time() - since) * 1000)
    seen: set[str] = set()
    while True:
        params: dict[str, Any] = {"logGroupName": group, "startTime": start}
        try:
            while True:
                page = client.logs("FilterLogEvents", params)
                for event in page.get("events", []):
                    if event["eventId"] in seen:
                        continue
                    seen.add(event["eventId"])
                    start = max(start, event["timestamp"])
                    stamp = time.strftime(
                        "%Y-%m-%dT%H:%M:%S", time.gmtime(event["timestamp"] / 1000)
                    )
                    click.echo(f"{stamp} {event['logStreamName']} {event['message']}", nl=False)
                if "nextToken" not in page:
                    break
                params["nextToken"] = page["nextToken"]
        except ApiError as exc:
            if exc.code != "ResourceNotFoundException" or not follow:
                fail(str(exc) if exc.code != "ResourceNotFoundException" else f"no logs for {name}")
        if not follow:
            return
        time.sleep(0.5)


@cli.command(name="ls")
@click.pass_obj
def list_functions(client: LambdaClient) -> None:
    """List functions."""
    try:
        functions: list[dict[str, Any]] = []
        query: dict[str, str] = {}
        while True:
            page = client.call("GET", "/2015-03-31/functions", query=query)
            functions.extend(page.get("Functions", []))
            if "NextMarker" not in page:
                break
            query = {"Marker": page["NextMarker"]}
    except ApiError as exc:
        fail(str(exc))
    rows = [("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "STATE", "LAST MODIFIED")]
    rows += [
        (
            f["FunctionName"],
            f["Runtime"],
            str(f["MemorySize"]),
            str(f["Timeout"]),
            f["State"],
            f["LastModified"],
        )
        for f in functions
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


@cli.command(name="queue")
@click.pass_obj
def queue_status(client: LambdaClient) -> None:
    """Show each function's asynchronous queue: depth, in flight, oldest event, dropped."""
    try:
        doc = client.call("GET", "/_ember/async-queues")
    except ApiError as exc:
        fail(str(exc))
    rows = [("FUNCTION", "DEPTH", "IN FLIGHT", "OLDEST", "DROPPED")]
    rows += [
        (
            q["FunctionName"],
            str(q["Depth"]),
            str(q["InFlight"]),
            _age(q["OldestEventAgeSeconds"]),
            str(q["Dropped"]),
        )
        for q in doc["Queues"]
    ]
    _table(rows)


@cli.command(name="metrics")
@click.argument("name")
@click.pass_obj
def function_metrics(client: LambdaClient, name: str) -> None:
    """Show function NAME's metrics since the server started (AsyncEventAge in ms)."""
    try:
        doc = client.call("GET", f"/_ember/metrics/{name}")
    except ApiError as exc:
        fail(str(exc))
    rows = [("METRIC", "VALUE")]
    rows += [(metric, str(value)) for metric, value in sorted(doc["Counters"].items())]
    for metric, s in sorted(doc["Summaries"].items()):
        rows.append(
            (
                metric,
                f"count {s['Count']}, avg {s['Average']:.1f}, min {s['Minimum']:.1f}, "
                f"max {s['Maximum']:.1f}",
            )
        )
    _table(rows)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
