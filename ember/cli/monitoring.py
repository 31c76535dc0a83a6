"""`ember logs` and `queue`: what a server's functions have been doing (`metrics`: metrics.py)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import click

from ember.cli.client import ApiError, LambdaClient
from ember.cli.output import fail, table


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events.")
@click.option("--since", default=3600.0, show_default=True, help="Seconds of history to show.")
@click.pass_obj
def logs(client: LambdaClient, name: str, follow: bool, since: float) -> None:
    """Show the log events of function NAME (all its environments' streams)."""
    group = f"/aws/lambda/{name}"
    with contextlib.suppress(ApiError):  # its LoggingConfig may name another group
        config = client.call("GET", f"/2015-03-31/functions/{name}/configuration")
        group = config.get("LoggingConfig", {}).get("LogGroup") or group
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


@click.command(name="queue")
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
    table(rows)
