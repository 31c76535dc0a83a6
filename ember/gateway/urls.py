"""The function URL door: `http://<url-id>.lambda-url.<region>.<domain>:<port>/…` (mounted
by Host in ember/doors.py, past no guard: it authenticates each request itself).

One request: find the config by url-id -> CORS preflight answered here -> auth (AWS_IAM:
SigV4, service `lambda`; NONE: the function's resource policy must let `*` call
`lambda:InvokeFunctionUrl` with `lambda:FunctionUrlAuthType` NONE) -> body (6 MB) ->
payload 2.0 event -> Invoker.invoke -> the answer read as format 2.0 -> CORS headers.

AWS's answers where they are known (recorded or documented): an unknown url-id 403
`{"Message":null}`, a refused caller 403 with the troubleshooting message, a function error
502 `Internal Server Error`, a throttle 429. RESPONSE_STREAM configs stream (streams.py).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

import orjson

from ember.clock import Clock
from ember.config import Settings
from ember.control.urls import UrlConfig
from ember.errors import LambdaError, ResourceNotFoundError, TooManyRequestsError
from ember.gateway import cors, payload, streams
from ember.gateway.iam import UrlSigner
from ember.gateway.seams import Invoking, Permissions
from ember.protocols.asgi import (
    ClientGoneError,
    Header,
    Message,
    Receive,
    Scope,
    Send,
    header,
    read_body_within,
    respond,
)

log = logging.getLogger("ember.gateway.urls")

BODY_LIMIT = 6 * 1024 * 1024  # Lambda's 6 MB synchronous request payload
INVOKE_URL = "lambda:InvokeFunctionUrl"
# AWS's answer to a caller the URL's auth refuses (recorded, 2025).
FORBIDDEN = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
_JSON = b"application/json"


class UrlConfigs(Protocol):
    def by_id(self, url_id: str) -> UrlConfig | None: ...


class UrlInvoker(streams.StreamingInvoker, Invoking, Protocol):
    """invoke.Invoker, as the door calls it (buffered and streamed)."""


class FunctionUrlDoor:
    def __init__(
        self,
        settings: Settings,
        urls: UrlConfigs,
        invoker: UrlInvoker,
        clock: Clock,
        *,
        policy: Permissions | None,
        signer: UrlSigner,
    ) -> None:
        self._settings = settings
        self._urls = urls
        self._invoker = invoker
        self._clock = clock
        # None only where no policy service is wired (a bare door in a test): NONE URLs open.
        self._policy = policy
        self._signer = signer
        self._port = str(settings.port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        try:
            await self._serve(scope, receive, send, request_id)
        except ClientGoneError:
            return
        except Exception:  # a fault of ours: logged with the request id, never a trace out
            log.exception("function URL request %s failed", request_id)
            await _answer(send, request_id, 500, [(b"content-type", _JSON)],
                          b'{"Message":"Internal Server Error"}')  # fmt: skip

    async def _serve(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        host = header(scope, b"host") or ""
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        config = self._urls.by_id(name.split(".", 1)[0].lower())
        if config is None:
            await _refuse(send, request_id, None)  # AWS: 403 {"Message":null}
            return
        method: str = scope["method"]
        origin = header(scope, b"origin")
        rules = config.cors
        if rules is not None and cors.is_preflight(
            method, origin, header(scope, b"access-control-request-method")
        ):
            assert origin is not None
            headers = cors.preflight_headers(
                rules, origin, header(scope, b"access-control-request-headers")
            )
            await _answer(send, request_id, 200, headers, b"")
            return
        if rules is not None:  # every answer from here on, errors included
            send = _with_cors(send, rules, origin)
        body = await read_body_within(receive, BODY_LIMIT)
        if body is None:
            message = f"Request must be smaller than {BODY_LIMIT} bytes for the Invoke operation"
            await _error(send, request_id, 413, "RequestTooLargeException", message)
            return
        request = payload.HttpRequest.from_scope(scope, body)
        authorizer: dict[str, Any] | None = None
        account = "anonymous"  # AWS's requestContext.accountId for NONE URLs
        if config.auth_type == "AWS_IAM":
            identity = await self._signer.identify(request)
            if identity is None:
                await _refuse(send, request_id, FORBIDDEN)
                return
            authorizer = {"iam": identity}
            account = identity["accountId"]
        elif self._policy is not None and not self._policy.allows(
            config.function_name, config.qualifier, INVOKE_URL, "*", url_auth_type="NONE"
        ):
            await _refuse(send, request_id, FORBIDDEN)
            return
        time_ms = int(self._clock.wall() * 1000)
        url_id = config.url_id
        event = payload.event(
            request,
            request_id=request_id,
            time_ms=time_ms,
            account_id=account,
            api_id=url_id,
            domain_name=name,
            domain_prefix=url_id,
            authorizer=authorizer,
            extra_headers=(
                ("x-amzn-trace-id", _trace_id(request_id, time_ms)),
                ("x-forwarded-proto", "http"),
                ("x-forwarded-port", self._port),
                ("x-forwarded-for", request.source_ip),
            ),
        )
        encoded = payload.encode(event)
        if len(encoded) > BODY_LIMIT:  # base64 grows a body by a third
            message = f"Request must be smaller than {BODY_LIMIT} bytes for the Invoke operation"
            await _error(send, request_id, 413, "RequestTooLargeException", message)
            return
        try:
            if config.invoke_mode == "RESPONSE_STREAM":
                await streams.answer(
                    self._invoker, config.function_name, config.qualifier, encoded,
                    request_id, send,
                )  # fmt: skip
                return
            result = await self._invoker.invoke(
                config.function_name, config.qualifier, encoded, request_id=request_id
            )
        except TooManyRequestsError:
            # AWS documents 429 for a throttled URL (reserved concurrency, 0 included).
            await _error(send, request_id, 429, "TooManyRequestsException", "Rate Exceeded.")
            return
        except ResourceNotFoundError:  # the function or alias went meanwhile
            await _refuse(send, request_id, FORBIDDEN)
            return
        except LambdaError as exc:
            log.warning("function URL %s: %s: %s", url_id, exc.code, exc.message)
            await _answer(send, request_id, 502, [(b"content-type", _JSON)],
                          b"Internal Server Error")  # fmt: skip
            return
        if result.function_error is not None:
            # AWS answers a function error (a timeout included) 502, the error unseen.
            await _answer(send, request_id, 502, [(b"content-type", _JSON)],
                          b"Internal Server Error")  # fmt: skip
            return
        try:
            answer = payload.read_response(result.payload)
        except payload.BadResponseError as exc:
            log.warning("function URL %s: the function's answer: %s", url_id, exc)
            await _answer(send, request_id, 502, [(b"content-type", _JSON)],
                          b"Internal Server Error")  # fmt: skip
            return
        await _answer(send, request_id, answer.status, answer.headers, answer.body)


def _with_cors(send: Send, rules: cors.CorsRules, origin: str | None) -> Send:
    """`send` with the configured CORS headers in place of the function's (AWS: the URL's
    configuration takes precedence)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = cors.response_headers(rules, origin, list(message.get("headers", [])))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _trace_id(request_id: str, time_ms: int) -> str:
    return f"Root=1-{time_ms // 1000:08x}-{request_id.replace('-', '')[:24]}"


async def _answer(
    send: Send, request_id: str, status: int, headers: list[Header], body: bytes
) -> None:
    await respond(send, status, [*headers, (b"x-amzn-requestid", request_id.encode())], body)


async def _refuse(send: Send, request_id: str, message: str | None) -> None:
    headers = [(b"content-type", _JSON), (b"x-amzn-errortype", b"AccessDeniedException")]
    await _answer(send, request_id, 403, headers, orjson.dumps({"Message": message}))


async def _error(send: Send, request_id: str, status: int, code: str, message: str) -> None:
    headers = [(b"content-type", _JSON), (b"x-amzn-errortype", code.encode())]
    await _answer(send, request_id, status, headers, orjson.dumps({"Message": message}))
