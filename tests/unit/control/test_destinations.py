"""Destination and dead-letter ARNs: AWS's messages where AWS has them, and a clear refusal
for services Ember does not run."""

from __future__ import annotations

import pytest

from ember.control.destinations import check_dead_letter, check_destinations, function_target
from ember.control.names import FunctionRef
from ember.errors import InvalidParameterValueError

REGION, ACCOUNT = "us-east-1", "000000000000"
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
EXISTING = {"me", "other"}


def exists(name: str, qualifier: str | None) -> bool:
    return name in EXISTING and qualifier in (None, "$LATEST")


def destinations(on_success: str | None, on_failure: str | None = None) -> None:
    check_destinations(
        on_success, on_failure, own_name="me", region=REGION, account=ACCOUNT, exists=exists
    )


def refusal(call: object, *args: str | None) -> str:
    with pytest.raises(InvalidParameterValueError) as info:
        call(*args)  # type: ignore[operator]
    return info.value.message


def test_another_function_and_empty_destinations_are_accepted() -> None:
    destinations(FN + "other", FN + "other:$LATEST")
    destinations("", None)


def test_aws_messages_for_lambda_destinations() -> None:
    assert refusal(destinations, FN + "me") == (
        "You can't specify the function as a destination for itself."
    )
    assert refusal(destinations, FN + "doesnotexist") == (
        f"The destination ARN {FN}doesnotexist is invalid."
    )


def test_unknown_service_is_quoted_as_aws_does() -> None:
    iam = f"arn:aws:iam:{REGION}:{ACCOUNT}:function:me"
    assert refusal(destinations, iam) == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{iam}), onFailure=null) is invalid."
    )


def test_queues_and_topics_are_accepted_unseen() -> None:
    # As on AWS: not looked up now; a missing one fails at delivery.
    destinations(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", f"arn:aws:sns:{REGION}:{ACCOUNT}:t.fifo")
    assert refusal(destinations, f"arn:aws:sqs:{REGION}:{ACCOUNT}:") == (
        f"The destination ARN arn:aws:sqs:{REGION}:{ACCOUNT}: is invalid."
    )


@pytest.mark.parametrize("service", ["events", "s3"])
def test_services_ember_does_not_run_are_refused_clearly(service: str) -> None:
    arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:thing"
    message = refusal(destinations, None, arn)
    assert message.startswith("Ember cannot deliver asynchronous invocation records to ")
    assert arn in message


def test_dead_letter_targets() -> None:
    def dead_letter(arn: str) -> None:
        check_dead_letter(arn, own_name="me", region=REGION, account=ACCOUNT, exists=exists)

    dead_letter(FN + "other")
    dead_letter("")  # clears it
    dead_letter(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")
    dead_letter(f"arn:aws:sns:{REGION}:{ACCOUNT}:t")
    assert "is invalid" in refusal(dead_letter, f"arn:aws:sqs:{REGION}:{ACCOUNT}:bad name")
    assert "own dead-letter target" in refusal(dead_letter, FN + "me")
    assert "no such function" in refusal(dead_letter, FN + "ghost")
    assert "is invalid" in refusal(dead_letter, "arn:aws:kms:us-east-1:000000000000:key/x")


def test_function_target_reads_only_this_region_and_account() -> None:
    assert function_target(FN + "f:alias", REGION, ACCOUNT) == FunctionRef("f", "alias")
    assert function_target(FN + "f", "eu-west-1", ACCOUNT) is None
    assert (
        function_target(f"arn:aws:lambda:{REGION}:111111111111:function:f", REGION, ACCOUNT) is None
    )
