"""How a resource policy's statements are evaluated for the front doors (pure logic)."""

from __future__ import annotations

from typing import Any

import pytest

from ember.control.policies import Permission, arn_like, build_statement, statements_allow
from ember.errors import InvalidParameterValueError

FN = "arn:aws:lambda:us-east-1:000000000000:function:f"
API = "arn:aws:execute-api:us-east-1:000000000000:abc123"


def statement(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("statement_id", "s")
    kwargs.setdefault("action", "lambda:InvokeFunction")
    return build_statement(Permission(**kwargs), FN)


URL_NONE = statement(
    action="lambda:InvokeFunctionUrl", principal="*", function_url_auth_type="NONE"
)
APIGW = statement(principal="apigateway.amazonaws.com", source_arn=f"{API}/*/GET/items")


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        (f"{API}/*/GET/items", f"{API}/prod/GET/items", True),
        (f"{API}/*/GET/items", f"{API}/prod/POST/items", False),
        (f"{API}/*", f"{API}/$default/GET/a/b/c", True),
        (f"{API}/*/*/item?", f"{API}/s/GET/items", True),
        ("arn:aws:execute-api:*:*:abc123/*", f"{API}/s/GET/x", True),
        ("arn:aws:execute-api:us-east-1:*:other/*", f"{API}/s/GET/x", False),
        ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
        ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket2", False),
        ("not-an-arn", "not-an-arn", False),
    ],
)
def test_arn_like_matches_each_part_with_wildcards(pattern: str, arn: str, expected: bool) -> None:
    assert arn_like(pattern, arn) is expected


def test_a_none_url_statement_allows_anonymous_url_calls_only() -> None:
    args = {"url_auth_type": "NONE"}
    assert statements_allow((URL_NONE,), "lambda:InvokeFunctionUrl", "*", **args)
    assert not statements_allow((URL_NONE,), "lambda:InvokeFunction", "*", **args)
    assert not statements_allow(
        (URL_NONE,), "lambda:InvokeFunctionUrl", "*", url_auth_type="AWS_IAM"
    )
    assert not statements_allow((URL_NONE,), "lambda:InvokeFunctionUrl", "*")  # no auth type


def test_an_anonymous_caller_needs_a_statement_for_everyone() -> None:
    service_only = statement(action="lambda:InvokeFunctionUrl", principal="s3.amazonaws.com")
    assert not statements_allow((service_only,), "lambda:InvokeFunctionUrl", "*")
    assert not statements_allow((), "lambda:InvokeFunctionUrl", "*", url_auth_type="NONE")


def test_api_gateway_statements_match_the_source_arn() -> None:
    ok = f"{API}/prod/GET/items"
    assert statements_allow((APIGW,), "lambda:InvokeFunction", "apigateway.amazonaws.com",
                            source_arn=ok)  # fmt: skip
    assert not statements_allow(
        (APIGW,), "lambda:InvokeFunction", "apigateway.amazonaws.com", source_arn=f"{API}/p/PUT/x"
    )
    assert not statements_allow((APIGW,), "lambda:InvokeFunction", "apigateway.amazonaws.com")
    assert not statements_allow((APIGW,), "lambda:InvokeFunction", "s3.amazonaws.com",
                                source_arn=ok)  # fmt: skip


def test_source_account_comes_from_the_source_arn_when_not_given() -> None:
    mine = statement(principal="apigateway.amazonaws.com", source_account="000000000000")
    other = statement(principal="apigateway.amazonaws.com", source_account="111111111111")
    arn = f"{API}/prod/GET/items"
    assert statements_allow((mine,), "lambda:InvokeFunction", "apigateway.amazonaws.com",
                            source_arn=arn)  # fmt: skip
    assert not statements_allow((other,), "lambda:InvokeFunction", "apigateway.amazonaws.com",
                                source_arn=arn)  # fmt: skip


def test_wildcard_actions_and_principals() -> None:
    everything = {**statement(principal="*"), "Action": "lambda:*"}
    assert statements_allow((everything,), "lambda:InvokeFunctionUrl", "*")
    assert statements_allow((everything,), "lambda:invokefunction", "apigateway.amazonaws.com")


def test_conditions_ember_cannot_know_allow_nothing() -> None:
    org = statement(principal="*", principal_org_id="o-1234567890")
    token = statement(principal="*", event_source_token="amzn1.ask.skill.x")
    assert not statements_allow((org,), "lambda:InvokeFunction", "*")
    assert not statements_allow((token,), "lambda:InvokeFunction", "*")


def test_account_principals_cover_the_account() -> None:
    account = statement(principal="000000000000")
    assert account["Principal"] == {"AWS": "arn:aws:iam::000000000000:root"}
    assert statements_allow((account,), "lambda:InvokeFunction", "000000000000")
    assert statements_allow((account,), "lambda:InvokeFunction", "arn:aws:iam::000000000000:role/r")
    assert not statements_allow((account,), "lambda:InvokeFunction", "111111111111")


def test_statements_are_written_as_aws_writes_them() -> None:
    doc = statement(
        action="lambda:InvokeFunctionUrl",
        principal="*",
        source_arn="arn:aws:s3:::b",
        source_account="000000000000",
        principal_org_id="o-1234567890",
        function_url_auth_type="NONE",
    )
    assert list(doc) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert doc["Condition"] == {
        "StringEquals": {
            "AWS:SourceAccount": "000000000000",
            "lambda:FunctionUrlAuthType": "NONE",
            "aws:PrincipalOrgID": "o-1234567890",
        },
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"},
    }
    assert statement(principal="s3.amazonaws.com")["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "Condition" not in statement(principal="s3.amazonaws.com")


@pytest.mark.parametrize("principal", ["invalid.nonaws.com", "", "arn:aws:s3:::b", "12345"])
def test_bad_principals_are_refused(principal: str) -> None:
    with pytest.raises(InvalidParameterValueError, match="The provided principal was invalid"):
        statement(principal=principal)


def test_url_auth_type_needs_the_url_action() -> None:
    with pytest.raises(InvalidParameterValueError, match="FunctionUrlAuthType"):
        statement(principal="*", function_url_auth_type="NONE")
