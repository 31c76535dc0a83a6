"""EventBridge's front door: the JSON 1.1 protocol (`X-Amz-Target: AWSEvents.<Op>`), an
ASGI app the top-level dispatcher sends those requests to."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson

from ember.errors import LambdaError, UnknownOperationError
from ember.protocols.asgi import Receive, Send, read_body, respond
from ember.protocols.rendering import JSON_1_1, json_error
from ember.rules.errors import InternalError, SerializationError
from ember.rules.operations import OPERATIONS
from ember.rules.service import Rules

log = logging.getLogger("ember.rules")
PREFIX = "AWSEvents."


class RulesDoor:
    def __init__(self, rules: Rules) -> None:
        self._rules = rules

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        target = ""
        for name, value in scope["headers"]:
            if name.lower() == b"x-amz-target":
                target = value.decode("latin-1")
        body = await read_body(receive)
        try:
            operation = OPERATIONS.get(target.removeprefix(PREFIX))
            if operation is None:
                raise UnknownOperationError(f"Unknown operation {target}")
            try:
                params = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError:
                raise SerializationError(
                    "Start of structure or map found where not expected."
                ) from None
            if not isinstance(params, dict):
                raise SerializationError("Start of structure or map found where not expected.")
            answer = await operation(self._rules, params)
        except LambdaError as exc:
            status, headers, payload = json_error(exc, request_id)
        except Exception:
            log.exception("EventBridge %s failed (request %s)", target, request_id)
            status, headers, payload = json_error(
                InternalError("An internal error occurred."), request_id
            )
        else:
            status, payload = 200, orjson.dumps(answer)
            headers = [
                (b"content-type", JSON_1_1.encode()),
                (b"x-amzn-requestid", request_id.encode()),
            ]
        await respond(send, status, headers, payload)
