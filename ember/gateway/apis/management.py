"""The apigatewayv2 management door (REST-JSON under /v2/, behind the SigV4 guard): each
request is matched to an operation of botocore's model, its body read through the model's
input shape, and the answer written through its output shape and status code."""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from ember.errors import LambdaError
from ember.gateway.apis import wire
from ember.gateway.apis.errors import BadRequestError, NotFoundError, render
from ember.gateway.apis.service import (
    AUTHORIZERS,
    DEPLOYMENTS,
    INTEGRATIONS,
    ROUTES,
    STAGES,
    HttpApis,
    Kind,
)

log = logging.getLogger("ember.gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Doc = dict[str, Any]
Handler = Callable[[HttpApis, dict[str, str], Doc], Awaitable[Any]]

_TAGS = "/v2/tags/"
_MAX_BODY = 1 << 20  # management bodies are small; AWS's own limit is far below this
_CHILD = {
    "Route": ROUTES,
    "Integration": INTEGRATIONS,
    "Authorizer": AUTHORIZERS,
    "Stage": STAGES,
    "Deployment": DEPLOYMENTS,
}
_CHILD_ID = {
    "Route": "routeId",
    "Integration": "integrationId",
    "Authorizer": "authorizerId",
    "Stage": "stageName",
    "Deployment": "deploymentId",
}


def _handlers() -> dict[str, Handler]:
    async def create_api(apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
        return await apis.create_api(body)

    async def get_api(apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
        return apis.get_api(p["apiId"])

    async def get_apis(apis: HttpApis, p: dict[str, str], body: Doc) -> list[Doc]:
        return apis.list_apis()

    async def update_api(apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
        return await apis.update_api(p["apiId"], body)

    async def delete_api(apis: HttpApis, p: dict[str, str], body: Doc) -> None:
        await apis.delete_api(p["apiId"])

    async def create_deployment(apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
        return await apis.create_deployment(p["apiId"], body)

    table: dict[str, Handler] = {
        "CreateApi": create_api,
        "GetApi": get_api,
        "GetApis": get_apis,
        "UpdateApi": update_api,
        "DeleteApi": delete_api,
        "CreateDeployment": create_deployment,
    }
    for name, kind in _CHILD.items():
        ident = _CHILD_ID[name]
        if name != "Deployment":
            table[f"Create{name}"] = functools.partial(_create, kind)
            table[f"Update{name}"] = functools.partial(_update, kind, ident)
        table[f"Get{name}"] = functools.partial(_get, kind, ident)
        table[f"Get{name}s"] = functools.partial(_list, kind)
        table[f"Delete{name}"] = functools.partial(_delete, kind, ident)
    return table


async def _create(kind: Kind, apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
    return await apis.create(p["apiId"], kind, body)


async def _update(kind: Kind, ident: str, apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
    return await apis.update(p["apiId"], kind, p[ident], body)


async def _get(kind: Kind, ident: str, apis: HttpApis, p: dict[str, str], body: Doc) -> Doc:
    return apis.get(p["apiId"], kind, p[ident])


async def _list(kind: Kind, apis: HttpApis, p: dict[str, str], body: Doc) -> list[Doc]:
    return apis.list(p["apiId"], kind)


async def _delete(kind: Kind, ident: str, apis: HttpApis, p: dict[str, str], body: Doc) -> None:
    await apis.delete(p["apiId"], kind, p[ident])


@functools.cache
def _operations() -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
    """(method, path pattern, operation name, operation model) for the operations served."""
    model = wire.model()["operations"]
    served = _handlers()
    found = []
    for name in served:
        op = model[name]
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(op["http"]["requestUri"]))
        found.append((op["http"]["method"], re.compile(pattern), name, op))
    return found


def _operation(method: str, path: str) -> tuple[str, dict[str, Any], re.Match[str]] | None:
    for op_method, pattern, name, op in _operations():
        match = pattern.fullmatch(path)
        if match is not None and op_method == method:
            return name, op, match
    return None


class ManagementDoor:
    """ASGI door for `/v2/…`."""

    def __init__(self, apis: HttpApis) -> None:
        self._apis = apis
        self._handlers = _handlers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        try:
            status, body = await self._serve(scope, receive)
            headers = [
                (b"content-type", b"application/json"),
                (b"x-amzn-requestid", request_id.encode()),
            ]
        except LambdaError as error:
            if error.fault == "Service":  # ours (a disk error): logged, no detail out
                log.error("HTTP API operation failed (request id %s)", request_id, exc_info=error)
                status, headers, body = _internal(request_id)
            else:
                status, headers, body = render(error, request_id)
        except Exception:
            log.exception("HTTP API operation failed (request id %s)", request_id)
            status, headers, body = _internal(request_id)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _serve(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        method, path = scope["method"], scope["path"]
        if path.startswith(_TAGS):
            return await self._tags(scope, receive)
        found = _operation(method, path)
        if found is None:
            raise NotFoundError(f"No operation matches {method} {path}", "Operation")
        name, op, match = found
        raw = await _read(receive)
        try:
            payload = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise BadRequestError("Could not parse request body into json") from exc
        body = wire.from_wire(op["input"]["shape"], payload)
        result = await self._handlers[name](self._apis, match.groupdict(), body)
        status = int(op["http"].get("responseCode", 200))
        output = op.get("output", {}).get("shape")
        if result is None or output is None:
            return status, b""
        if isinstance(result, list):
            result = _page(result, parse_qs(scope.get("query_string", b"").decode()))
        return status, orjson.dumps(wire.to_wire(output, result))

    async def _tags(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """TagResource, UntagResource, GetTags: the ARN is one path segment, percent-encoded
        (its slashes too), so it is read from the raw path."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        arn = unquote(raw.decode("latin-1").split("?", 1)[0][len(_TAGS) :])
        method = scope["method"]
        if method == "GET":
            return 200, orjson.dumps(wire.to_wire("GetTagsResponse", self._apis.get_tags(arn)))
        if method == "POST":
            raw_body = await _read(receive)
            try:
                payload = orjson.loads(raw_body) if raw_body.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise BadRequestError("Could not parse request body into json") from exc
            body = wire.from_wire("TagResourceRequest", payload)
            await self._apis.tag(arn, body.get("Tags", {}))
            return 201, b"{}"
        if method == "DELETE":
            keys = parse_qs(scope.get("query_string", b"").decode()).get("tagKeys", [])
            await self._apis.untag(arn, keys)
            return 204, b""
        raise NotFoundError(f"No operation matches {method} {scope['path']}", "Operation")


def _internal(request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return (
        500,
        [
            (b"content-type", b"application/json"),
            (b"x-amzn-errortype", b"InternalServerErrorException"),
            (b"x-amzn-requestid", request_id.encode()),
        ],
        orjson.dumps({"message": "Internal server error"}),
    )


def _page(items: list[Doc], query: dict[str, list[str]]) -> Doc:
    """Items from NextToken (an offset), at most MaxResults of them."""
    try:
        start = int(query.get("nextToken", ["0"])[0])
        size = int(query.get("maxResults", [str(len(items) or 1)])[0])
    except ValueError as exc:
        raise BadRequestError("Invalid maxResults or nextToken") from exc
    if start < 0 or size < 1:
        raise BadRequestError("Invalid maxResults or nextToken")
    page: Doc = {"Items": items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            raise BadRequestError("Request body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
