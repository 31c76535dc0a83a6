"""Bodies read before their signature is checked: per-operation limits and the server-wide
budget, refused unread where Content-Length allows, in each protocol's shape."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from collections.abc import Iterable
from typing import Any

import pytest

from ember.api.auth import MAX_SIGNED_BODY, Guard
from ember.api.invocations import SYNC_LIMIT
from ember.api.unverified import (
    OverBudgetError,
    TooLargeError,
    UnverifiedBudget,
    read_unverified,
)
from ember.clock import ManualClock
from ember.config import Settings
from tests.unit.api.test_auth import FakeKeys, _refusal, _scope

KEY, SECRET = "AKIAGOOD", "secret"
INVOKE = "/2015-03-31/functions/f/invocations"


def _chunks(*chunks: bytes) -> Any:
    """A `receive` handing out `chunks`; it fails the test if called past them."""
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        assert pending, "the body was read past its end"
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    return receive


async def _unread() -> dict[str, Any]:
    raise AssertionError("the body was read")


def test_declared_too_large_or_over_budget_is_refused_unread() -> None:
    budget = UnverifiedBudget(100)
    with pytest.raises(TooLargeError):
        asyncio.run(read_unverified(_unread, 51, 50, budget))
    asyncio.run(_hold(budget, 60))
    with pytest.raises(OverBudgetError):
        asyncio.run(read_unverified(_unread, 41, 50, budget))
    assert budget.held == 60


async def _hold(budget: UnverifiedBudget, size: int) -> None:
    body = await read_unverified(_chunks(b"x" * size), size, size, budget)
    assert body.reserved == size


def test_a_body_without_length_is_budgeted_as_it_comes_and_given_back() -> None:
    budget = UnverifiedBudget(100)
    with pytest.raises(OverBudgetError):
        asyncio.run(read_unverified(_chunks(b"x" * 60, b"y" * 60), None, 1000, budget))
    assert budget.held == 0
    with pytest.raises(TooLargeError):
        asyncio.run(read_unverified(_chunks(b"x" * 60, b"y" * 30), None, 80, budget))
    assert budget.held == 0


def test_the_body_is_hashed_as_it_comes_and_handed_on_as_it_came() -> None:
    budget = UnverifiedBudget(100)
    parts = (b"ab", b"cd", b"ef")

    async def scenario() -> list[tuple[bytes, bool]]:
        body = await read_unverified(_chunks(*parts), None, 100, budget)
        assert body.sha256 == hashlib.sha256(b"abcdef").hexdigest()
        assert budget.held == 6  # until the caller has checked the signature
        budget.give_back(body.reserved)
        receive = body.replay(_unread)
        return [(m["body"], m["more_body"]) for m in [await receive() for _ in parts]]

    assert asyncio.run(scenario()) == [(b"ab", True), (b"cd", True), (b"ef", False)]


# -- through the guard ----------------------------------------------------------------


def _guard(budget: int | UnverifiedBudget = 10 * SYNC_LIMIT) -> Guard:
    import time

    return Guard(
        Settings(auth="sigv4"),
        ManualClock(wall=time.time()),  # botocore signs with the real time
        FakeKeys({KEY: SECRET}),
        None,
        budget if isinstance(budget, UnverifiedBudget) else UnverifiedBudget(budget),
    )


def _forged(method: str, path: str, length: int, headers: Iterable[tuple[str, str]] = ()) -> Any:
    """A request under a known key id with a made-up signature, announcing `length` bytes."""
    now = datetime.datetime.now(datetime.UTC)
    scope = _scope(method, path, headers=dict(headers))
    scope["headers"] += [
        (b"content-length", str(length).encode()),
        (b"x-amz-date", f"{now:%Y%m%dT%H%M%SZ}".encode()),
        (
            b"authorization",
            f"AWS4-HMAC-SHA256 Credential={KEY}/{now:%Y%m%d}/us-east-1/lambda/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}".encode(),
        ),
    ]
    return scope


def _refused(guard: Guard, scope: Any, receive: Any = _unread) -> tuple[int, dict[str, str], Any]:
    sent: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert asyncio.run(guard.admit(scope, receive, send)) is None
    return _refusal(sent)


def test_each_operation_reads_no_more_than_it_accepts() -> None:
    guard = _guard()
    over = {
        ("POST", INVOKE): SYNC_LIMIT + 1,
        ("PUT", "/2015-03-31/functions/f/configuration"): SYNC_LIMIT + 1,
        ("POST", "/2015-03-31/functions"): MAX_SIGNED_BODY + 1,
        ("PUT", "/2015-03-31/functions/f/code"): MAX_SIGNED_BODY + 1,
        ("POST", "/2018-10-31/layers/l/versions"): MAX_SIGNED_BODY + 1,
    }
    for (method, path), length in over.items():
        status, headers, _ = _refused(guard, _forged(method, path, length))
        assert status == 413, (method, path)
        assert headers["x-amzn-errortype"] in (
            "RequestTooLargeException",
            "RequestEntityTooLargeException",
        )
    # Within its limit, a code upload is read (and then fails its signature).
    body = b"{" + b" " * (SYNC_LIMIT + 1)
    scope = _forged("POST", "/2015-03-31/functions", len(body))
    status, headers, _ = _refused(guard, scope, _chunks(body))
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")


def test_a_full_budget_throttles_in_each_protocols_shape() -> None:
    guard = _guard(budget=1000)
    status, headers, body = _refused(guard, _forged("POST", INVOKE, 1001))
    assert (status, headers["x-amzn-errortype"]) == (429, "TooManyRequestsException")
    assert body["Reason"] == "CallerRateLimitExceeded"
    assert body["message"].startswith("Rate Exceeded.")
    logs = _forged("POST", "/", 1001, [("x-amz-target", "Logs_20140328.PutLogEvents")])
    status, headers, body = _refused(guard, logs)
    assert (status, body["__type"]) == (400, "ThrottlingException")


def test_a_signature_out_of_its_window_is_refused_unread() -> None:
    guard = _guard()
    scope = _forged("POST", INVOKE, 1000)
    stale = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20)
    scope["headers"] = [
        (k, f"{stale:%Y%m%dT%H%M%SZ}".encode() if k == b"x-amz-date" else v)
        for k, v in scope["headers"]
    ]
    scope["headers"] = [
        (k, v.replace(datetime.datetime.now(datetime.UTC).strftime("%Y%m%d").encode(),
                      stale.strftime("%Y%m%d").encode()) if k == b"authorization" else v)
        for k, v in scope["headers"]
    ]  # fmt: skip
    status, headers, body = _refused(guard, scope)
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Signature expired")


def test_verified_or_not_the_bytes_leave_the_budget() -> None:
    budget = UnverifiedBudget(SYNC_LIMIT)
    guard = _guard(budget)
    _refused(guard, _forged("POST", INVOKE, 3), _chunks(b"abc"))
    assert budget.held == 0
    good = _scope("POST", INVOKE, b"{}", creds=(KEY, SECRET, None))
    good["headers"].append((b"content-length", b"2"))
    sent: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def scenario() -> bytes:
        receive = await guard.admit(good, _chunks(b"{}"), send)
        assert receive is not None
        return bytes((await receive())["body"])

    assert asyncio.run(scenario()) == b"{}"
    assert (budget.held, sent) == (0, [])
