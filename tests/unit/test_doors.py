"""The top-level dispatch: each request reaches the door of the service it addresses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ember.api.auth import Guard
from ember.clock import SystemClock
from ember.config import Settings
from ember.doors import Doors


class _Door:
    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(self.name)


def _doors(seen: list[str]) -> Doors:
    guard = Guard(Settings(auth="none"), SystemClock(), None, None)
    doors = Doors(_Door("lambda", seen), guard, environment_port=5555)
    doors.by_host(".lambda-url.", _Door("urls", seen))
    doors.by_host("execute-api", _Door("apis", seen))
    doors.by_target("AmazonSQS.", _Door("sqs", seen))
    doors.by_target("AWSEvents.", _Door("events", seen))
    doors.by_path("/v2/", _Door("apigatewayv2", seen))
    doors.by_form(_Door("sns", seen))
    return doors


def _scope(
    path: str = "/", method: str = "POST", port: int = 9001, **headers: str
) -> dict[str, Any]:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw,
        "server": ("127.0.0.1", port),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    pass


@pytest.mark.parametrize(
    ("scope", "door"),
    [
        (_scope(host="abc123.lambda-url.us-east-1.localhost:9001"), "urls"),
        (_scope(host="ABC.Lambda-Url.eu-west-1.example.com"), "urls"),
        (_scope("/prod/items", "GET", host="a1b2c3d4e5.execute-api.localhost:9001"), "apis"),
        (_scope(host="127.0.0.1:9001", x_amz_target="AmazonSQS.SendMessage"), "sqs"),
        (_scope(host="127.0.0.1:9001", x_amz_target="AWSEvents.PutEvents"), "events"),
        (_scope(host="127.0.0.1:9001", x_amz_target="Logs_20140328.GetLogEvents"), "lambda"),
        (_scope("/v2/apis", "GET", host="localhost:9001"), "apigatewayv2"),
        (_scope(host="localhost", content_type="application/x-www-form-urlencoded"), "sns"),
        (_scope("/2015-03-31/functions", "GET", host="localhost:9001"), "lambda"),
        # A form posted anywhere but "/" is not the query protocol.
        (_scope("/2015-03-31/functions", content_type="application/x-www-form-urlencoded"),
         "lambda"),
        # Lambda's own host names are not routed by host.
        (_scope("/2015-03-31/functions", "GET", host="lambda.us-east-1.localhost"), "lambda"),
    ],
)  # fmt: skip
def test_each_request_reaches_its_door(scope: dict[str, Any], door: str) -> None:
    seen: list[str] = []
    asyncio.run(_doors(seen)(scope, _receive, _send))
    assert seen == [door]


def test_functions_do_not_reach_host_routed_doors_unguarded() -> None:
    """Through the environment door a Host header routes nothing: the guard runs first and
    refuses the unsigned request (environments must sign with their own credentials)."""
    seen: list[str] = []
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = _scope(port=5555, host="abc.lambda-url.us-east-1.localhost")
    asyncio.run(_doors(seen)(scope, _receive, send))
    assert seen == []
    assert sent[0]["status"] == 403
