"""Routes for PutFunctionRecursionConfig and GetFunctionRecursionConfig (2024-08-31)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.references import References
from ember.api.requests import read_document, read_input
from ember.api.shapes import json_response
from ember.api.validation import parse_input, validate
from ember.control.recursion import RecursionConfigs, RecursiveLoop
from ember.errors import ValidationError

# AWS quotes the values in this order (the model lists them the other way round).
_LOOP_VALUES = "Terminate, Allow"


class RecursionRoutes:
    def __init__(self, references: References, configs: RecursionConfigs) -> None:
        self._refs = references
        self._configs = configs

    def routes(self) -> list[Route]:
        path = "/2024-08-31/functions/{FunctionName}/recursion-config"
        return [
            Route(path, self.get, methods=["GET"]),
            Route(path, self.put, methods=["PUT"]),
        ]

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetFunctionRecursionConfig")
        name, _ = self._refs.parse(values, "GetFunctionRecursionConfig")
        return json_response({"RecursiveLoop": str(self._configs.get(name))})

    async def put(self, request: Request) -> Response:
        values = await _read_put(request)
        name, _ = self._refs.parse(values, "PutFunctionRecursionConfig")
        loop = await self._configs.put(name, RecursiveLoop(values["RecursiveLoop"]))
        return json_response({"RecursiveLoop": str(loop)})


async def _read_put(request: Request) -> dict[str, Any]:
    """PutFunctionRecursionConfig's input; RecursiveLoop checked with AWS's own wording."""
    op = "PutFunctionRecursionConfig"
    body = await read_document(request, op)
    values = parse_input(op, request.path_params, request.query_params, request.headers, body)
    loop = values.get("RecursiveLoop")
    if isinstance(loop, str) and loop not in {str(v) for v in RecursiveLoop}:
        raise ValidationError(
            f"1 validation error detected: Value '{loop}' at 'recursiveLoop' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{_LOOP_VALUES}]"
        )
    validate(op, values)
    return values
