"""One port, many AWS services: the ASGI application the server runs sends each request to
the front door that serves it, as AWS SDKs address them.

- by Host: `<id>.lambda-url.<region>.<domain>` (function URLs) and `<id>.execute-api.<domain>`
  (HTTP APIs). These are called by anyone a function's owner lets in (a browser, curl), so
  they skip the SigV4 guard: each door applies its own auth (AWS_IAM URLs, authorizers).
- by `X-Amz-Target` (JSON protocols: SQS, EventBridge; CloudWatch Logs stays in the Lambda
  app, which routes it at `/`),
- by path prefix (REST protocols beside Lambda's, e.g. apigatewayv2 under /v2/),
- by form: `POST /` with a form-encoded body is the query protocol (SNS).
Everything else is Lambda's REST API. Every door but the Host-routed ones sits behind the
guard (api.auth): signatures when `--auth sigv4`, and always the environments' credentials,
scoped to what an execution role may do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ember.api.app import answer_fault
from ember.api.auth import ENVIRONMENT_SCOPE_KEY, Guard, names_loopback

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Door = Callable[[Scope, Receive, Send], Awaitable[None]]

_FORM = b"application/x-www-form-urlencoded"


class Doors:
    def __init__(self, lambda_app: Door, guard: Guard, environment_port: int | None) -> None:
        self._lambda = lambda_app
        self._guard = guard
        # Requests through this port come from functions (the environment door).
        self._environment_port = environment_port
        self._hosts: dict[str, Door] = {}
        self._targets: list[tuple[bytes, Door]] = []
        self._paths: list[tuple[str, Door]] = []
        self._loopback_paths: list[tuple[str, Door]] = []  # unsigned from loopback clients
        self._form: Door | None = None
        self._home: Door | None = None

    def by_host(self, label: str, door: Door) -> None:
        """Requests whose Host's second label is `label` ("lambda-url", "execute-api")."""
        self._hosts[label.strip(".")] = door

    def by_target(self, prefix: str, door: Door) -> None:
        """Requests whose X-Amz-Target starts with `prefix` ("AmazonSQS.")."""
        self._targets.append((prefix.encode(), door))

    def by_path(self, prefix: str, door: Door, *, unsigned_on_loopback: bool = False) -> None:
        """Requests whose path starts with `prefix` ("/v2/"). `unsigned_on_loopback`: also
        served without the guard to clients on the host's loopback (not functions), e.g. a
        local Prometheus scraping /metrics under `--auth sigv4`, which cannot sign."""
        self._paths.append((prefix, door))
        if unsigned_on_loopback:
            self._loopback_paths.append((prefix, door))

    def by_home(self, door: Door) -> None:
        """`GET /` from a browser (Accept: text/html): the web console's front page, which
        only redirects to its own path (so it is served before the guard)."""
        self._home = door

    def by_form(self, door: Door) -> None:
        """Form-encoded `POST /`: the query protocol."""
        self._form = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._lambda(scope, receive, send)
            return
        server = scope.get("server")
        from_environment = server is not None and server[1] == self._environment_port
        if from_environment:
            scope[ENVIRONMENT_SCOPE_KEY] = True
        host, target, form = _glance(scope["headers"])
        if self._hosts and not from_environment:
            door = self._hosts.get(_second_label(host))
            if door is not None:
                await door(scope, receive, send)
                return
        if (
            self._home is not None
            and scope["path"] == "/"
            and scope["method"] == "GET"
            and not from_environment
            and _accepts_html(scope["headers"])
        ):
            await self._home(scope, receive, send)
            return
        if self._loopback_paths and not from_environment and _on_loopback(scope, host):
            for prefix, door in self._loopback_paths:
                if scope["path"].startswith(prefix):
                    await door(scope, receive, send)
                    return
        try:
            admitted = await self._guard.admit(scope, receive, send)
        except Exception as exc:
            await answer_fault(scope, send, exc)
            return
        if admitted is None:
            return  # refused: the guard answered
        await self._door(scope, target, form)(scope, admitted, send)

    def _door(self, scope: Scope, target: bytes, form: bool) -> Door:
        if target:
            for target_prefix, door in self._targets:
                if target.startswith(target_prefix):
                    return door
            return self._lambda  # CloudWatch Logs, and unknown targets' errors
        path: str = scope["path"]
        for prefix, door in self._paths:
            if path.startswith(prefix):
                return door
        if form and self._form is not None and path == "/" and scope["method"] == "POST":
            return self._form
        return self._lambda


def _glance(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes, bool]:
    """Host, X-Amz-Target and whether the body is a form, from one pass over the headers."""
    host = target = b""
    form = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"host":
            host = value
        elif lowered == b"x-amz-target":
            target = value
        elif lowered == b"content-type":
            form = value.lower().startswith(_FORM)
    return host, target, form


def _accepts_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"accept" and b"text/html" in value for name, value in headers)


def _on_loopback(scope: Scope, host: bytes) -> bool:
    """From the host's loopback, and naming it: a web page whose own name a DNS rebinding
    points at 127.0.0.1 connects from loopback too, but with its site in Host (and reads
    the answers as same-origin)."""
    client = scope.get("client")
    if client is None or not (client[0].startswith("127.") or client[0] == "::1"):
        return False
    return names_loopback(host)


def _second_label(host: bytes) -> str:
    """`abc.lambda-url.us-east-1.localhost:9001` -> `lambda-url`."""
    name = host.rsplit(b":", 1)[0] if host.count(b":") == 1 else host
    labels = name.lower().split(b".", 2)
    return labels[1].decode("latin-1") if len(labels) > 2 else ""
