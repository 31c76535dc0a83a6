"""`ember deploy`, `invoke` and `ls`: functions through the Lambda API, as any AWS tool
would drive it."""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ember.cli.client import ApiError, LambdaClient
from ember.cli.output import fail, table
from ember.control.codezip import zip_folder

ROLE = "arn:aws:iam::000000000000:role/ember"
LARGE = 1024 * 1024  # packages from this size on show their upload's progress


def _upload(client: LambdaClient, method: str, path: str, doc: dict[str, Any]) -> None:
    """Send a request carrying a package; a progress line on stderr for large ones (in
    place on a terminal, every quarter otherwise)."""
    body = json.dumps(doc).encode()
    if len(body) < LARGE:
        client.request(method, path, body, {"content-type": "application/json"})
        return
    tty = sys.stderr.isatty()
    shown = -1

    def progress(sent: int, total: int) -> None:
        nonlocal shown
        percent = sent * 100 // total
        step = percent if tty else percent // 25 * 25
        if step != shown:
            shown = step
            line = f"uploading {sent / 1048576:.1f} of {total / 1048576:.1f} MB ({percent}%)"
            click.echo(f"\r{line}" if tty else line, err=True, nl=not tty or sent == total)

    client.request(method, path, body, {"content-type": "application/json"}, progress=progress)


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


@click.command()
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
            _upload(
                client,
                "PUT",
                f"/2015-03-31/functions/{name}/code",
                {"ZipFile": base64.b64encode(package).decode()},
            )
            _wait_updated(client, name)
            client.call("PUT", f"/2015-03-31/functions/{name}/configuration", settings)
            verb = "updated"
        else:
            _upload(
                client,
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


@click.command()
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


@click.command(name="ls")
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
    # ListFunctions carries no State (AWS leaves it to GetFunction), so neither does this.
    rows = [("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST MODIFIED")]
    rows += [
        (
            f["FunctionName"],
            f.get("Runtime", "-"),
            str(f["MemorySize"]),
            str(f["Timeout"]),
            f["LastModified"],
        )
        for f in functions
    ]
    table(rows)
