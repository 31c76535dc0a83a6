"""Every error Ember raises, rendered and then read back by botocore's own rest-json parser:
the client must see the code, the message text and the modeled members."""

from __future__ import annotations

import botocore.session
import orjson
import pytest
from botocore.parsers import RestJSONParser

import ember.server  # noqa: F401 - every package's errors, whatever ran first
from ember import errors
from ember.api.errors import error_body, error_headers
from ember.api.model import service_model

# Lambda's REST API renders the errors of these packages; the other services' doors (queues,
# topics, rules, streams, tables, gateway, CloudWatch) render theirs in their own protocols
# and are tested there.
_LAMBDA_API = ("ember.errors", "ember.api.", "ember.control.", "ember.invoke.",
               "ember.scheduler.", "ember.runtime_api.")  # fmt: skip


def _every_error_class() -> list[type[errors.LambdaError]]:
    found: list[type[errors.LambdaError]] = []
    pending: list[type[errors.LambdaError]] = [errors.LambdaError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith(_LAMBDA_API):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: (c.__name__, c.__module__))


def _parse(error: errors.LambdaError) -> dict:  # type: ignore[type-arg]
    model = botocore.session.get_session().get_service_model("lambda")
    output = model.operation_model("GetFunction").output_shape
    response = {
        "status_code": error.status,
        "headers": {k.decode(): v.decode() for k, v in error_headers(error)},
        "body": error_body(error),
    }
    parsed: dict = RestJSONParser().parse(response, output)  # type: ignore[type-arg]
    code = parsed["Error"]["Code"]
    shape = model.shape_for_error_code(code)
    if shape is not None:
        # What botocore's client adds for a modeled error (its `_inject_modeled_error_shape`).
        parsed.update(RestJSONParser().parse(response, shape))
    return parsed


@pytest.mark.parametrize("cls", _every_error_class(), ids=lambda c: c.code)
def test_botocore_reads_code_and_message(cls: type[errors.LambdaError]) -> None:
    parsed = _parse(cls("what went wrong"))
    assert parsed["Error"]["Code"] == cls.code
    assert parsed["Error"]["Message"] == "what went wrong"
    modeled = service_model()["shapes"].get(cls.code)
    if modeled is not None:
        # The message sits under the member name the model gives (`message` or `Message`).
        member = "message" if "message" in modeled["members"] else "Message"
        assert parsed[member] == "what went wrong"
        if cls.typed:
            assert parsed["Type"] == cls.fault
        else:  # AWS leaves it out for this answer (e.g. a missing code-signing config)
            assert "Type" not in parsed


@pytest.mark.parametrize(
    ("cls", "member"),
    [
        (errors.InvalidParameterValueError, "message"),
        (errors.ResourceConflictError, "message"),
        (errors.PreconditionFailedError, "message"),
        (errors.TooManyRequestsError, "message"),
        (errors.ResourceNotFoundError, "Message"),
        (errors.ServiceError, "Message"),
    ],
)
def test_message_member_follows_the_model(cls: type[errors.LambdaError], member: str) -> None:
    body = orjson.loads(error_body(cls("text")))
    assert body == {"Type": cls.fault, member: "text"}


def test_throttle_carries_reason_and_framework_errors_carry_bare_message() -> None:
    throttle = errors.TooManyRequestsError("Rate Exceeded.", Reason="ReservedFunction")
    assert orjson.loads(error_body(throttle)) == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "ReservedFunction",
    }
    assert _parse(throttle)["Reason"] == "ReservedFunction"
    # Outside the Lambda model: AWS's request framework answers with `message` alone.
    assert orjson.loads(error_body(errors.ValidationError("1 validation error"))) == {
        "message": "1 validation error"
    }
