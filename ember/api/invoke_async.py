"""InvokeAsync (2014-11-13): Lambda's deprecated asynchronous invoke, still served as AWS
serves it: the body is the event, the answer 202 `{"Status": 202}`."""

from __future__ import annotations

import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.invocations import check_event_size
from ember.api.model import function_name_rule
from ember.api.requests import read_body
from ember.config import Settings
from ember.control.names import parse_function_name
from ember.errors import InvalidRequestContentError
from ember.invoke.intake import EventIntake

# AWS: "The payload limit is 256KB. For larger payloads, for up to 1MB, use Invoke."
INVOKE_ASYNC_LIMIT = 256 * 1024


class InvokeAsyncRoute:
    def __init__(self, settings: Settings, intake: EventIntake) -> None:
        self._settings = settings
        self._intake = intake

    def routes(self) -> list[Route]:
        path = "/2014-11-13/functions/{FunctionName}/invoke-async"
        return [
            Route(path, self.invoke_async, methods=["POST"]),
            Route(path + "/", self.invoke_async, methods=["POST"]),
        ]

    async def invoke_async(self, request: Request) -> Response:
        pattern, max_length = function_name_rule("InvokeAsync")
        ref = parse_function_name(
            request.path_params["FunctionName"],
            self._settings.region,
            max_length=max_length,
            pattern=pattern,
            account=self._settings.account_id,
        )
        payload = await read_body(request, "InvokeAsync")
        check_event_size(payload, "InvokeAsync operation", INVOKE_ASYNC_LIMIT)
        if payload.strip():
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequestContentError(
                    f"Could not parse request body into json: {exc}"
                ) from None
        else:
            payload = b"{}"
        request_id = str(uuid.uuid4())
        await self._intake.accept(ref.name, ref.qualifier, payload, request_id=request_id)
        return Response(
            orjson.dumps({"Status": 202}),
            status_code=202,
            media_type="application/json",
            headers={"x-amzn-requestid": request_id},
        )
