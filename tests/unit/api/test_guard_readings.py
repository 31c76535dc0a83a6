"""The guard reads a request as the door behind it will (one Action, one Host), and an open
server on loopback refuses what a web page makes a browser send (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from ember.api.auth import MisdirectedRequestError, _browser_check, _form_member, names_loopback
from ember.errors import AccessDeniedError


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (b"localhost", True),
        (b"LOCALHOST:9001", True),
        (b"abc.lambda-url.us-east-1.localhost:9001", True),
        (b"127.0.0.1:9001", True),
        (b"127.1", True),
        (b"[::1]:9001", True),
        (b"::1", True),
        (b"attacker.example:9001", False),
        (b"127.0.0.1.attacker.example", False),
        (b"localhost.attacker.example", False),
        (b"0.0.0.0:9001", False),
        (b"[::ffff:10.0.0.1]:9001", False),
        (b"", False),
    ],
)
def test_names_loopback(host: bytes, expected: bool) -> None:
    assert names_loopback(host) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"Action=Publish&TopicArn=x", "Publish"),
        (b"Action=Publish&Action=CreateTopic", None),  # the SNS door acts on the last
        (b"Action=&Action=CreateTopic", None),
        (b"Act%69on=Publish", "Publish"),
        (b"TopicArn=x", None),
    ],
)
def test_form_action_is_read_once(body: bytes, expected: str | None) -> None:
    assert _form_member(body, "Action") == expected


def _scope(**headers: str) -> dict[str, Any]:
    return {"headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


def test_open_loopback_server_refuses_web_pages() -> None:
    _browser_check(_scope(host="127.0.0.1:9001"), "localhost")  # SDKs, the CLI
    _browser_check(_scope(host="localhost:9001", origin="http://localhost:9001"), "localhost")
    _browser_check(_scope(host="ember.test:9001"), "ember.test")  # the --domain
    _browser_check(_scope(), "localhost")  # HTTP/1.0, no Host: no browser sent it
    with pytest.raises(AccessDeniedError):
        _browser_check(_scope(host="127.0.0.1:9001", origin="http://attacker.example"), "localhost")
    with pytest.raises(AccessDeniedError):
        _browser_check(_scope(host="127.0.0.1:9001", origin="null"), "localhost")
    with pytest.raises(MisdirectedRequestError):
        _browser_check(_scope(host="attacker.example:9001"), "localhost")
