"""Who may call: SigV4 checking at the front of every API Ember serves, before routing.

- `--auth sigv4`: every request must be signed with an access key from `ember keys` or with
  an environment's temporary credentials.
- `--auth none`: unsigned requests pass, and so do requests signed with keys Ember does not
  issue (SDKs always sign, with whatever keys the user has configured).
- Whatever the mode, requests signed with an environment's credentials are checked and
  scoped like a Lambda execution role allowed to invoke functions and write logs, and
  requests that come through the environments' door must carry such credentials.
- Internal links (`/_ember/code/…`, `/_ember/layer-code/…`) carry their own expiring
  signature instead.

Cheap refusals come before a body is read (unknown key, wrong token, a date outside the
15-minute window); bodies read before their signature is checked are bounded per operation
and server-wide (api/unverified.py).
"""

from __future__ import annotations

import functools
import hmac
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from ember.api import logchecks
from ember.api.errors import error_body, error_headers
from ember.api.invocations import SYNC_LIMIT, is_invoke
from ember.api.logchecks import LogsError
from ember.api.model import service_model
from ember.api.unverified import (
    Body,
    ClientGoneError,
    OverBudgetError,
    TooLargeError,
    UnverifiedBudget,
    read_unverified,
)
from ember.clock import Clock
from ember.config import Settings
from ember.errors import (
    AccessDeniedError,
    ExpiredTokenError,
    LambdaError,
    MissingAuthenticationTokenError,
    RequestEntityTooLargeError,
    RequestTooLargeError,
    TooManyRequestsError,
    UnrecognizedClientError,
)
from ember.protocols import Session, SessionIssuer, SignedRequest, parse_signature, verify
from ember.protocols.query import query_error
from ember.protocols.rendering import json_error
from ember.protocols.sigv4 import check_time, is_signed

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ENVIRONMENT_SCOPE_KEY = "ember.environment"  # set by the server on the environments' door
# Internal links that carry their own expiring signature (protocols.links).
LINK_PREFIXES = ("/_ember/code/", "/_ember/layer-code/")
# The largest body any operation accepts (CreateFunction's 50 MB zip in base64 JSON), and
# the operations that accept it; the others take at most Invoke's 6 MB (api/requests.py).
MAX_SIGNED_BODY = 70_167_211
_CODE_UPLOADS = frozenset(
    {"lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:PublishLayerVersion"}
)
LOGS_TARGET = "Logs_20140328."
# What a function's execution role may do to its own log group (the Lambda console's
# default role), beside invoking.
_ROLE_LOG_WRITES = frozenset({"CreateLogGroup", "CreateLogStream", "PutLogEvents"})
# The other services' data operations an execution role may call (the managed policies a
# queue worker or publisher attaches), by X-Amz-Target service prefix, and SNS's (query
# protocol) by Action. Creating, deleting and configuring them stays the operator's.
_ROLE_TARGETS = {
    "AmazonSQS": frozenset(
        {
            "SendMessage",
            "SendMessageBatch",
            "ReceiveMessage",
            "DeleteMessage",
            "DeleteMessageBatch",
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
            "GetQueueUrl",
            "GetQueueAttributes",
        }
    ),
    "AWSEvents": frozenset({"PutEvents"}),
    # Kinesis producers and readers (AWSLambdaKinesisExecutionRole's reads, plus puts).
    "Kinesis_20131202": frozenset(
        {
            "PutRecord",
            "PutRecords",
            "GetRecords",
            "GetShardIterator",
            "DescribeStream",
            "DescribeStreamSummary",
            "ListShards",
            "ListStreams",
        }
    ),
    # Table readers and writers (a function's own data), and table-stream readers
    # (AWSLambdaDynamoDBExecutionRole).
    "DynamoDB_20120810": frozenset(
        {
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "BatchGetItem",
            "BatchWriteItem",
            "TransactGetItems",
            "TransactWriteItems",
            "DescribeTable",
        }
    ),
    "DynamoDBStreams_20120810": frozenset(
        {"DescribeStream", "GetShardIterator", "GetRecords", "ListStreams"}
    ),
}
_ROLE_IAM_PREFIX = {"AmazonSQS": "sqs", "AWSEvents": "events", "Kinesis_20131202": "kinesis",
                    "DynamoDB_20120810": "dynamodb",
                    "DynamoDBStreams_20120810": "dynamodb"}  # fmt: skip
_ROLE_SNS_ACTIONS = frozenset({"Publish", "PublishBatch"})
SNS_NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
_INVOKE_STREAM = re.compile(r"^/2021-11-15/functions/[^/]+/response-streaming-invocations/?$")
_INVOKE_ASYNC = re.compile(r"^/2014-11-13/functions/([^/]+)/invoke-async/?$")
_INVALID_TOKEN = "The security token included in the request is invalid."


class MisdirectedRequestError(LambdaError):
    """A Host that does not name this server (421, as the console answers it)."""

    code = "MisdirectedRequestException"
    status = 421
    fault = "User"


class KeyLookup(Protocol):
    """Where the secrets of `ember keys` come from (control.keys.AccessKeys)."""

    async def secret(self, key_id: str) -> str | None: ...


class Guard:
    """Admits or refuses each HTTP request before any route sees it (see the module)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        keys: KeyLookup | None,
        sessions: SessionIssuer | None,
        unverified: UnverifiedBudget | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._keys = keys
        self._sessions = sessions
        self._unverified = unverified or UnverifiedBudget()
        self._required = settings.auth == "sigv4"
        # `--auth none` on a loopback address trusts whoever can connect: the host's own
        # users. A web page open in their browser can connect too; see `_browser_check`.
        self._browsers_checked = not self._required and names_loopback(settings.host.encode())

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The `receive` to serve the request with, or None once it has been refused."""
        try:
            return await self._admit(scope, receive)
        except LambdaError as error:
            await _refuse(scope, send, error)
            return None
        except LogsError as error:  # the Logs front door's own bound, in its shape
            await _refuse_logs(send, error)
            return None
        except ClientGoneError:
            return None

    async def _admit(self, scope: Scope, receive: Receive) -> Receive:
        door = bool(scope.get(ENVIRONMENT_SCOPE_KEY))
        if self._browsers_checked and not door:
            _browser_check(scope, self._settings.domain)
        if not door and not self._required:
            # --auth none: only environments' own credentials are checked (and scoped).
            key = _access_key(scope)
            if key is None or self._sessions is None or self._sessions.find(key) is None:
                return receive
        if not door and scope["path"].startswith(LINK_PREFIXES):
            return receive  # the link's own signature is checked by its route
        headers = _headers(scope)
        request = SignedRequest(
            scope["method"], scope.get("raw_path") or scope["path"].encode(),
            scope["query_string"], headers,
        )  # fmt: skip
        if not is_signed(request):
            raise MissingAuthenticationTokenError("Missing Authentication Token")
        signature = parse_signature(request)
        assert signature is not None
        session = self._sessions.find(signature.access_key) if self._sessions else None
        if session is not None:
            if not hmac.compare_digest((signature.token or "").encode(), session.token.encode()):
                raise UnrecognizedClientError(_INVALID_TOKEN)
            if session.expires_at <= self._clock.wall():
                raise ExpiredTokenError("The security token included in the request is expired")
            secret = session.secret
        elif door or self._keys is None:
            raise UnrecognizedClientError(_INVALID_TOKEN)
        else:
            found = await self._keys.secret(signature.access_key)
            if found is None:
                raise UnrecognizedClientError(_INVALID_TOKEN)
            secret = found
        # A signature outside its time window fails whatever its body: refused unread.
        now = self._clock.wall()
        check_time(signature, now)
        logs = headers.get("x-amz-target", "").startswith(LOGS_TARGET)
        # An environment's credentials serve nothing larger than Invoke's 6 MB: held to it,
        # a function cannot make the door buffer 64 x 70 MB before the signature is checked.
        invoke = is_invoke(scope) or session is not None
        body = await _read_body(scope, receive, headers, self._unverified, invoke, logs)
        try:
            request = SignedRequest(
                request.method, request.raw_path, request.raw_query, headers,
                body_sha256=body.sha256,
            )  # fmt: skip
            verify(request, signature, secret, now, time_checked=True)
            if session is not None:
                self._check_role(scope, headers, body, session)
        finally:
            self._unverified.give_back(body.reserved)
        return body.replay(receive)

    def _check_role(
        self, scope: Scope, headers: dict[str, str], body: Body, session: Session
    ) -> None:
        """An execution role's scope: invoke any function, write its own logs; nothing else."""
        s = self._settings
        target = headers.get("x-amz-target")
        # A request naming an X-Amz-Target is judged by it wherever it goes: the dispatcher
        # (ember/doors.py) sends it to that service's door whatever its path. Off "/" it must
        # also pass as what its path names, which is how Lambda's REST API (and CloudWatch
        # Logs' door, at "/" only) would serve it.
        if target is not None:
            self._check_target(target, body, session)
            if scope["path"] == "/":
                return
        if is_form(headers) and scope["path"] == "/" and scope["method"] == "POST":
            action = _form_member(body.joined(), "Action")
            if action in _ROLE_SNS_ACTIONS:
                return
            raise _denied(session, f"sns:{action or 'Unknown'}", "*")
        path, method = scope["path"], scope["method"]
        if method == "POST" and (
            (path.startswith("/2015-03-31/functions/") and path.endswith("/invocations"))
            or _INVOKE_ASYNC.match(path)
            # InvokeWithResponseStream comes with lambda:InvokeFunction on AWS.
            or _INVOKE_STREAM.match(path)
        ):
            return
        action, function = _operation(method, path)
        resource = "*"
        if function:
            resource = (
                function
                if function.startswith("arn:")
                else f"arn:aws:lambda:{s.region}:{s.account_id}:function:{function}"
            )
        raise _denied(session, action, resource)

    def _check_target(self, target: str, body: Body, session: Session) -> None:
        """Raises unless the role may call the JSON protocols' operation `target`."""
        s = self._settings
        if target.startswith(LOGS_TARGET):
            op = target.removeprefix(LOGS_TARGET)
            group = _json_member(body.joined(), "logGroupName")
            # Only its own group, as the role the Lambda console creates for a function:
            # a function must not forge lines in another's logs, nor grow groups without end.
            own = group == f"/aws/lambda/{session.function_name}"
            if op in _ROLE_LOG_WRITES and own:
                return
            resource = f"arn:aws:logs:{s.region}:{s.account_id}:log-group:{group}" if group else "*"
            raise _denied(session, f"logs:{op}" if op else "logs:Unknown", resource)
        service, _, op = target.partition(".")
        if op in _ROLE_TARGETS.get(service, ()):
            return
        raise _denied(session, f"{_ROLE_IAM_PREFIX.get(service, service)}:{op}", "*")


def names_loopback(host: bytes) -> bool:
    """A Host header (or address) that names the host's loopback: localhost (and its
    subdomains), 127.0.0.0/8, [::1]; with or without a port."""
    name = host.lower()
    if name.startswith(b"["):
        return name.partition(b"]")[0] == b"[::1"
    if name == b"::1":
        return True
    name = name.rsplit(b":", 1)[0]
    return (
        name == b"localhost"
        or name.endswith(b".localhost")
        or (name.startswith(b"127.") and name.replace(b".", b"").isdigit())
    )


def _browser_check(scope: Scope, domain: str) -> None:
    """Refuses what a web page can make a browser send to an open (`--auth none`) Ember on
    loopback: a cross-site request (a form POST of text/plain JSON is a CORS "simple"
    request: CreateFunction, Invoke and SNS's form protocol need no preflight), or any
    request to a name of the page's own that a DNS rebinding points at 127.0.0.1 (then the
    page is same-origin and reads the answers). SDKs and the CLI send no Origin and name
    the address they were given."""
    host = origin = b""
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"host":
            host = value.lower()
        elif lowered == b"origin":
            origin = value.lower()
    name = host.rsplit(b":", 1)[0] if not host.startswith(b"[") else host
    own = domain.lower().encode()
    # No Host at all: not a browser (HTTP/1.0 tools), nothing a page could have named.
    if host and not (names_loopback(host) or name == own or name.endswith(b"." + own)):
        raise MisdirectedRequestError(
            f"Host {host.decode('latin-1')!r} does not name this server: an open (--auth none) "
            f"Ember on loopback answers to localhost, 127.0.0.1 and {domain}"
        )
    if origin and urlsplit(origin.decode("latin-1")).netloc.encode() != host:
        raise AccessDeniedError(
            "Requests from web pages of another origin are refused (cross-site request "
            "forgery): an open (--auth none) Ember serves SDKs, the CLI and its console"
        )


def _denied(session: Session, action: str, resource: str) -> AccessDeniedError:
    return AccessDeniedError(
        f"User: {session.principal} is not authorized to perform: {action} on resource: "
        f"{resource} because no identity-based policy allows the {action} action"
    )


@functools.cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, IAM action) for each operation of Lambda's model."""
    routes = []
    for name, op in service_model()["operations"].items():
        uri = op["http"]["requestUri"].split("?")[0]
        pattern = re.sub(
            r"\{(\w+)(\+?)\}",
            lambda m: f"(?P<{m[1]}>.+)" if m[2] else f"(?P<{m[1]}>[^/]+)",
            re.escape(uri).replace(r"\{", "{").replace(r"\}", "}"),
        )
        routes.append((op["http"]["method"], re.compile(f"^{pattern}/?$"), f"lambda:{name}"))
    return routes


def _operation(method: str, path: str) -> tuple[str, str | None]:
    """The IAM action of a Lambda request, and the function it names (if any)."""
    for route_method, pattern, action in _routes():
        found = pattern.match(path) if route_method == method else None
        if found is not None:
            return action, found.groupdict().get("FunctionName")
    if path.startswith("/_ember/"):
        return f"ember:{path.split('/')[2]}", None
    return "lambda:Unknown", None


def is_form(headers: dict[str, str]) -> bool:
    """A form-encoded body: the query protocol (SNS)."""
    return headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded")


def _form_member(body: bytes, name: str) -> str | None:
    """The member's one value, read as the query door reads its form (topics.wire); None
    when it is missing or repeated: a door that takes the last of `Action=Publish&
    Action=CreateTopic` must not be judged on the first."""
    values = parse_qs(
        body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=1000
    ).get(name)
    return values[0] if values is not None and len(values) == 1 else None


def _json_member(body: bytes, name: str) -> str | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = doc.get(name) if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _access_key(scope: Scope) -> str | None:
    """The access key a request is signed with, at a glance (None when unsigned)."""
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            _, found, rest = value.partition(b"Credential=")
            return rest.split(b"/", 1)[0].decode("latin-1") if found else ""
    query: bytes = scope["query_string"]
    _, found, rest = query.partition(b"X-Amz-Credential=")
    return unquote(rest.split(b"&", 1)[0].decode("latin-1")).split("/", 1)[0] if found else None


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


async def _read_body(
    scope: Scope,
    receive: Receive,
    headers: dict[str, str],
    budget: UnverifiedBudget,
    invoke: bool,
    logs: bool,
) -> Body:
    """The whole body (its hash is signed), within the largest the operation accepts and the
    server's budget for unverified bytes; refused in the protocol's words (CloudWatch Logs
    requests in the Logs front door's)."""
    raw = headers.get("content-length", "")
    declared = int(raw) if raw.isascii() and raw.isdigit() else None
    if logs:
        limit = logchecks.MAX_BODY
    elif invoke or (declared is not None and declared <= SYNC_LIMIT):
        limit = SYNC_LIMIT
    else:
        code = _operation(scope["method"], scope["path"])[0] in _CODE_UPLOADS
        limit = MAX_SIGNED_BODY if code else SYNC_LIMIT
    try:
        return await read_unverified(receive, declared, limit, budget)
    except TooLargeError as exc:
        if logs:
            raise logchecks.too_large(exc.size) from None
        if invoke:
            raise RequestTooLargeError(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            ) from None
        raise RequestEntityTooLargeError(f"Request must be smaller than {limit} bytes") from None
    except OverBudgetError:
        message = (
            f"Rate Exceeded. The server holds as many request bodies as it may "
            f"({budget.limit} bytes) before their signatures are checked; retry."
        )
        if logs:
            raise LogsError("ThrottlingException", message) from None
        raise TooManyRequestsError(message, Reason="CallerRateLimitExceeded") from None


async def _refuse(scope: Scope, send: Send, error: LambdaError) -> None:
    """The error in the request's protocol: JSON 1.1 for `X-Amz-Target` services, else
    Lambda's REST-JSON."""
    request_id = str(uuid.uuid4())
    if any(name.lower() == b"x-amz-target" for name, _ in scope["headers"]):
        status, headers, body = json_error(error, request_id)
    elif scope["path"] == "/" and is_form(_headers(scope)):
        status, headers, body = query_error(error, request_id, SNS_NAMESPACE)
    else:
        status, headers, body = error.status, error_headers(error, request_id), error_body(error)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse_logs(send: Send, error: LogsError) -> None:
    """A CloudWatch Logs error, as the Logs front door (api.logs) answers it."""
    body = error.to_json()
    headers = [
        (b"content-type", logchecks.CONTENT_TYPE.encode()),
        (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
