"""Routes for TagResource, UntagResource and ListTags (2017-03-31)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.requests import read_document
from ember.api.shapes import json_response
from ember.api.validation import parse_input, validate
from ember.control.tags import TagService, check_resource

# Stands in for the Resource in the model's checks: AWS quotes its own pattern for it
# (control.tags.check_resource), not the model's.
_SOME_RESOURCE = "arn:aws:lambda:us-east-1:000000000000:function:f"


async def _read(request: Request, op_name: str) -> dict[str, Any]:
    """The operation's input, checked as AWS checks it: Resource by AWS's own pattern, Tags
    by control (map-level wording), the rest by the model."""
    body = await read_document(request, op_name) if request.method == "POST" else None
    values = parse_input(op_name, request.path_params, request.query_params, request.headers, body)
    if "TagKeys" in values:  # a repeated query parameter: every value
        values["TagKeys"] = request.query_params.getlist("tagKeys")
    check_resource(values["Resource"])
    checked = {**values, "Resource": _SOME_RESOURCE}
    if isinstance(values.get("Tags"), dict):
        checked["Tags"] = {}
    validate(op_name, checked)
    return values


class TagRoutes:
    def __init__(self, tags: TagService) -> None:
        self._tags = tags

    def routes(self) -> list[Route]:
        path = "/2017-03-31/tags/{Resource}"
        return [
            Route(path, self.tag, methods=["POST"]),
            Route(path, self.untag, methods=["DELETE"]),
            Route(path, self.list, methods=["GET"]),
        ]

    async def tag(self, request: Request) -> Response:
        values = await _read(request, "TagResource")
        await self._tags.tag(values["Resource"], values["Tags"])
        return Response(status_code=204)

    async def untag(self, request: Request) -> Response:
        values = await _read(request, "UntagResource")
        await self._tags.untag(values["Resource"], values["TagKeys"])
        return Response(status_code=204)

    async def list(self, request: Request) -> Response:
        values = await _read(request, "ListTags")
        return json_response({"Tags": self._tags.of(values["Resource"])})
