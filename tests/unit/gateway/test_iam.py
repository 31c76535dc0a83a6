"""AWS_IAM function URLs: which signed requests identify a caller (requests signed by
botocore's SigV4Auth, as awscurl and SDK-based clients sign them)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ember.clock import SystemClock
from ember.config import Settings
from ember.gateway.iam import UrlSigner
from ember.gateway.payload import HttpRequest

HOST = "abc.lambda-url.us-east-1.localhost:9001"


class Keys:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known

    async def secret(self, key_id: str) -> str | None:
        return self.known.get(key_id)


def signed(key: str, secret: str, service: str = "lambda", body: bytes = b"{}") -> HttpRequest:
    request = AWSRequest(method="POST", url=f"http://{HOST}/p?q=1", data=body)
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    headers = {"host": HOST, **{k.lower(): v for k, v in request.headers.items()}}
    return HttpRequest("POST", "/p", "q=1", tuple(headers.items()), "127.0.0.1", "HTTP/1.1", body)


def identify(request: HttpRequest, auth: str = "sigv4", keys: dict[str, str] | None = None) -> Any:
    settings = dataclasses.replace(Settings(), auth=auth)
    signer = UrlSigner(settings, SystemClock(), Keys(keys or {"AKEY": "secret"}), None)
    return asyncio.run(signer.identify(request))


def test_a_known_key_identifies_the_caller() -> None:
    assert identify(signed("AKEY", "secret")) == {
        "accessKey": "AKEY",
        "accountId": "000000000000",
        "callerId": "000000000000",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": "arn:aws:iam::000000000000:root",
        "userId": "000000000000",
    }


def test_refusals() -> None:
    assert identify(signed("AKEY", "wrong")) is None
    assert identify(signed("AKEY", "secret", service="execute-api")) is None
    assert identify(signed("OTHER", "secret")) is None  # unknown key under --auth sigv4
    unsigned = HttpRequest("GET", "/", "", (("host", HOST),), "127.0.0.1", "HTTP/1.1", b"")
    assert identify(unsigned) is None
    assert identify(unsigned, auth="none") is None


def test_a_changed_body_breaks_the_signature() -> None:
    request = dataclasses.replace(signed("AKEY", "secret"), body=b'{"x": 1}')
    assert identify(request) is None


def test_auth_none_takes_unknown_keys_unverified_but_checks_known_ones() -> None:
    assert identify(signed("OTHER", "anything"), auth="none")["accessKey"] == "OTHER"
    assert identify(signed("AKEY", "wrong"), auth="none") is None
