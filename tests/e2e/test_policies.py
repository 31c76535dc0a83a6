"""Resource-based policies (AddPermission, RemovePermission, GetPolicy) on a real server,
with boto3 and the AWS CLI: AWS's documents, per qualifier, RevisionId preconditions, the
recorded error answers (tests/conformance, the TestLambdaPermissions rows, replayed here:
SCENARIOS), bad input that changes nothing, and policies surviving a restart."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.apicalls import (
    ACCOUNT,
    ARN_PREFIX,
    deploy,
    expect_error,
    outcome_from,
    outcome_of,
    unique,
)
from tests.e2e.harness import Server, aws_cli, run_server
from tests.e2e.test_conformance import Result, Row, assert_answered, load_rows

pytestmark = pytest.mark.e2e

S3 = "arn:aws:s3:::test-bucket"
NO_RESOURCE = "The resource you requested does not exist."
FUNCTION_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
POLICY_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetPolicy API to retrieve the latest Revision Id"
)


def add(lam: Any, name: str, sid: str = "s3", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("Action", "lambda:InvokeFunction")
    kwargs.setdefault("Principal", "s3.amazonaws.com")
    statement: dict[str, Any] = json.loads(
        lam.add_permission(FunctionName=name, StatementId=sid, **kwargs)["Statement"]
    )
    return statement


def policy(lam: Any, name: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    answer = lam.get_policy(FunctionName=name, **kwargs)
    doc = json.loads(answer["Policy"])
    assert (doc["Version"], doc["Id"]) == ("2012-10-17", "default")
    return doc["Statement"], answer["RevisionId"]


@pytest.fixture(scope="module")
def fn(server: Server) -> Iterator[str]:
    """A function with version 1 and an alias `live` to it, shared by read-only checks."""
    lam = server.client()
    name = unique("policy")
    deploy(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    yield name
    lam.delete_function(FunctionName=name)


def fresh(lam: Any, versions: int = 0) -> str:
    name = unique("policy")
    deploy(lam, name)
    for _ in range(versions):
        lam.publish_version(FunctionName=name)
    return name


# -- AWS's recorded answers -----------------------------------------------------------------

P = "TestLambdaPermissions::"
EXC = f"{P}test_permission_exceptions/"
Scenario = Callable[[Any, str], Result]  # (boto3 client, shared function) -> the error


def call(op: str, **kwargs: Any) -> Scenario:
    """`op` on the shared function (kwargs' "{fn}" filled in)."""

    def scenario(lam: Any, fn: str) -> Result:
        args = {k: v.format(fn=fn) if isinstance(v, str) else v for k, v in kwargs.items()}
        args.setdefault("FunctionName", fn)
        outcome = outcome_of(lambda: getattr(lam, op)(**args))
        return Result(outcome, {"<function-name>": fn})

    return scenario


def adding(**kwargs: Any) -> Scenario:
    base = {"Action": "lambda:InvokeFunction", "StatementId": "s3"}
    base.setdefault("Principal", "s3.amazonaws.com")
    return call("add_permission", **{**base, "SourceArn": S3, **kwargs})


def remove_unknown_sid(lam: Any, _fn: str) -> Result:
    name = fresh(lam)
    add(lam, name)
    add(lam, name, "sqs", Principal="sqs.amazonaws.com", SourceArn=S3)
    outcome = outcome_of(
        lambda: lam.remove_permission(FunctionName=name, StatementId="non-existent")
    )
    return Result(outcome, {})


def get_after_removing_all(lam: Any, _fn: str) -> Result:
    name = fresh(lam)
    add(lam, name)
    lam.remove_permission(FunctionName=name, StatementId="s3")
    return Result(outcome_of(lambda: lam.get_policy(FunctionName=name)), {})


def conflicting_sid(lam: Any, _fn: str) -> Result:
    name = fresh(lam)
    add(lam, name, SourceArn=S3)
    _, revision = policy(lam, name)
    outcome = outcome_of(lambda: add(lam, name, SourceArn=S3))
    assert policy(lam, name)[1] == revision  # nothing changed
    return Result(outcome, {})


def version_policy_after_publish(lam: Any, _fn: str) -> Result:
    name = fresh(lam)
    add(lam, name, SourceArn=S3)
    version = lam.publish_version(FunctionName=name)["Version"]
    return Result(outcome_of(lambda: lam.get_policy(FunctionName=name, Qualifier=version)), {})


def alias_wrong_revision(lam: Any, _fn: str) -> Result:
    """No policy on the alias yet: the precondition is the alias's RevisionId."""
    name = fresh(lam, versions=1)
    alias = lam.create_alias(FunctionName=name, Name="permission-alias", FunctionVersion="1")
    outcome = outcome_of(
        lambda: add(lam, name, Qualifier="permission-alias", SourceArn=S3, RevisionId="wrong")
    )
    add(lam, name, Qualifier="permission-alias", SourceArn=S3, RevisionId=alias["RevisionId"])
    return Result(outcome, {})


def policy_wrong_revision(op: str) -> Scenario:
    """A policy there already: the precondition is the policy's RevisionId."""

    def scenario(lam: Any, _fn: str) -> Result:
        name = fresh(lam)
        add(lam, name, SourceArn=S3)
        add(lam, name, "s3_2", SourceArn=S3)
        if op == "add":
            outcome = outcome_of(lambda: add(lam, name, "s3_3", SourceArn=S3, RevisionId="wrong"))
        else:
            outcome = outcome_of(
                lambda: lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId="x")
            )
        assert len(policy(lam, name)[0]) == 2
        return Result(outcome, {})

    return scenario


def remove_without_policy(lam: Any, _fn: str) -> Result:
    name = fresh(lam)
    return Result(
        outcome_of(lambda: lam.remove_permission(FunctionName=name, StatementId="s3")), {}
    )


def function_wrong_revision(lam: Any, _fn: str) -> Result:
    """No policy yet: the precondition is the function's RevisionId (which then works)."""
    name = fresh(lam)
    revision = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    outcome = outcome_of(lambda: add(lam, name, RevisionId="wrong"))
    add(lam, name, RevisionId=revision)
    return Result(outcome, {})


SCENARIOS: dict[str, Scenario] = {
    f"{P}test_remove_multi_permissions/remove_permission_exception_nonexisting_sid": (
        remove_unknown_sid
    ),
    f"{P}test_remove_multi_permissions/get_policy_exception_removed_all": get_after_removing_all,
    f"{EXC}add_permission_invalid_statement_id": adding(StatementId="example.com"),
    f"{EXC}add_permission_fn_qualifier_mismatch": adding(
        FunctionName="{fn}:alias-not-42", Qualifier="42"
    ),
    f"{EXC}add_permission_fn_qualifier_latest": adding(
        FunctionName="{fn}:$LATEST", Qualifier="$LATEST"
    ),
    f"{EXC}add_permission_principal_invalid": call(
        "add_permission",
        StatementId="lambda",
        Action="lambda:InvokeFunction",
        Principal="invalid.nonaws.com",
        SourceAccount=ACCOUNT,
    ),
    f"{EXC}get_policy_fn_doesnotexist": call("get_policy", FunctionName="doesnotexist"),
    f"{EXC}get_policy_fn_version_doesnotexist": call("get_policy", Qualifier="77"),
    f"{EXC}add_permission_fn_doesnotexist": adding(FunctionName="doesnotexist"),
    f"{EXC}remove_permission_policy_doesnotexist": remove_without_policy,
    f"{EXC}add_permission_fn_alias_doesnotexist": adding(FunctionName="{fn}:alias-doesnotexist"),
    f"{EXC}add_permission_fn_version_doesnotexist": adding(Qualifier="42"),
    f"{EXC}add_permission_fn_qualifier_invalid": adding(Qualifier="invalid-qualifier-with-?-char"),
    f"{EXC}add_permission_fn_qualifier_valid_doesnotexist": adding(
        Qualifier="valid-with-$-but-doesnotexist"
    ),
    f"{EXC}add_permission_conflicting_statement_id": conflicting_sid,
    f"{EXC}remove_permission_fn_doesnotexist": call(
        "remove_permission", FunctionName="doesnotexist", StatementId="s3"
    ),
    f"{EXC}remove_permission_fn_alias_doesnotexist": call(
        "remove_permission", StatementId="s3", Qualifier="alias-doesnotexist"
    ),
    f"{P}test_lambda_permission_versioning/get_policy_after_publishing_new_version": (
        version_policy_after_publish
    ),
    f"{P}test_lambda_permission_fn_versioning/get_policy_after_publishing_new_version": (
        version_policy_after_publish
    ),
    f"{P}test_lambda_permission_fn_versioning/add_permission_alias_revision_exception": (
        alias_wrong_revision
    ),
    f"{P}test_lambda_permission_revisions/add_permission_revision_id_doesnotmatch": (
        policy_wrong_revision("add")
    ),
    f"{P}test_lambda_permission_revisions/remove_permission_fn_revision_id_doesnotmatch": (
        policy_wrong_revision("remove")
    ),
    "TestLambdaRevisions::test_function_revisions_permissions/add_permission_revision_exception": (
        function_wrong_revision
    ),
}


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return load_rows()


def test_every_permission_row_is_replayed(rows: dict[str, Row]) -> None:
    ours = {k for k in rows if k.startswith((P, "TestLambdaRevisions::test_function_revisions_p"))}
    assert sorted(ours - set(SCENARIOS)) == []
    assert sorted(set(SCENARIOS) - set(rows)) == []


@pytest.mark.parametrize("key", list(SCENARIOS), ids=list(SCENARIOS))
def test_recorded_error(key: str, rows: dict[str, Row], server: Server, fn: str) -> None:
    result = SCENARIOS[key](server.client(), fn)
    assert_answered(result.outcome, rows[key], result.names)


# -- behaviour --------------------------------------------------------------------------------


def test_documents_as_aws_writes_them(lam: Any) -> None:
    name = fresh(lam)
    statement = add(lam, name, SourceArn=S3)
    assert statement == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": ARN_PREFIX + name,
        "Condition": {"ArnLike": {"AWS:SourceArn": S3}},
    }
    url = add(lam, name, "url", Action="lambda:InvokeFunctionUrl", Principal="*",
              FunctionUrlAuthType="NONE")  # fmt: skip
    assert url["Principal"] == "*"
    assert url["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    account = add(lam, name, "acct", Principal=ACCOUNT)
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    statements, _ = policy(lam, name)
    assert [s["Sid"] for s in statements] == ["s3", "url", "acct"]


def test_each_qualifier_has_its_own_policy(lam: Any) -> None:
    name = fresh(lam, versions=1)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    add(lam, name)  # the same Sid on each target
    add(lam, name, Qualifier="1")
    add(lam, f"{name}:live")
    assert policy(lam, name)[0][0]["Resource"] == ARN_PREFIX + name
    assert policy(lam, name, Qualifier="1")[0][0]["Resource"] == f"{ARN_PREFIX}{name}:1"
    assert policy(lam, name, Qualifier="live")[0][0]["Resource"] == f"{ARN_PREFIX}{name}:live"
    # The alias's policy goes with the alias; the function's stays.
    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    expect_error(lambda: lam.get_policy(FunctionName=name, Qualifier="live"),
                 "ResourceNotFoundException", 404, NO_RESOURCE)  # fmt: skip
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="1")
    expect_error(lambda: lam.get_policy(FunctionName=name, Qualifier="1"),
                 "ResourceNotFoundException", 404, NO_RESOURCE)  # fmt: skip
    assert len(policy(lam, name)[0]) == 1
    # A function created again under the same name starts without a policy.
    lam.delete_function(FunctionName=name)
    deploy(lam, name)
    expect_error(lambda: lam.get_policy(FunctionName=name),
                 "ResourceNotFoundException", 404, NO_RESOURCE)  # fmt: skip


def test_revision_ids_guard_every_change(lam: Any) -> None:
    name = fresh(lam)
    add(lam, name)
    _, first = policy(lam, name)
    add(lam, name, "two", RevisionId=first)
    _, second = policy(lam, name)
    assert second != first
    expect_error(lambda: add(lam, name, "three", RevisionId=first),
                 "PreconditionFailedException", 412, FUNCTION_REVISION)  # fmt: skip
    expect_error(
        lambda: lam.remove_permission(FunctionName=name, StatementId="two", RevisionId=first),
        "PreconditionFailedException", 412, FUNCTION_REVISION,
    )  # fmt: skip
    lam.remove_permission(FunctionName=name, StatementId="two", RevisionId=second)
    assert [s["Sid"] for s in policy(lam, name)[0]] == ["s3"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"Principal": "not a principal"}, "ValidationException"),  # the model's [^\s]+
        ({"Principal": "example.com"}, "InvalidParameterValueException"),
        ({"Action": "s3:GetObject"}, "ValidationException"),
        ({"SourceArn": "not-an-arn"}, "ValidationException"),
        ({"SourceAccount": "12"}, "ValidationException"),
        ({"PrincipalOrgID": "org"}, "ValidationException"),
        ({"FunctionUrlAuthType": "NONE"}, "InvalidParameterValueException"),  # not the URL action
        ({"FunctionUrlAuthType": "OPEN", "Action": "lambda:InvokeFunctionUrl"},
         "ValidationException"),
        ({"StatementId": "x" * 101}, "ValidationException"),
        ({"Qualifier": "$LATEST"}, "InvalidParameterValueException"),
    ],
)  # fmt: skip
def test_bad_input_changes_nothing(
    server: Server, fn: str, kwargs: dict[str, Any], code: str
) -> None:
    lam, lax = server.client(), server.client(parameter_validation=False)
    add_args = {"FunctionName": fn, "StatementId": "bad", "Action": "lambda:InvokeFunction",
                "Principal": "s3.amazonaws.com", **kwargs}  # fmt: skip
    before = outcome_of(lambda: lam.get_policy(FunctionName=fn))
    got = outcome_of(lambda: lax.add_permission(**add_args))
    assert got.code == code, got
    after = outcome_of(lambda: lam.get_policy(FunctionName=fn))
    assert before == after  # still no policy


def test_wrong_types_are_refused(server: Server, fn: str) -> None:
    lax = server.client(parameter_validation=False)
    got = outcome_of(
        lambda: lax.add_permission(
            FunctionName=fn, StatementId=5, Action="lambda:InvokeFunction", Principal=[]
        )
    )
    assert got.code == "ValidationException"
    malformed = "arn:aws:lambda:us-east-1:000000000000:function:a:b:c"
    got = outcome_of(lambda: lax.get_policy(FunctionName=malformed))
    assert got.code == "ValidationException"


def test_a_policy_over_20_kb_is_refused(lam: Any) -> None:
    name = fresh(lam)
    long_arn = "arn:aws:s3:::" + "b" * 900
    sids: list[str] = []
    while len(sids) < 40:
        sid = f"s{len(sids)}"
        try:
            add(lam, name, sid, SourceArn=long_arn)
        except ClientError as exc:
            got = outcome_from(exc)
            break
        sids.append(sid)
    assert (got.code, got.status) == ("PolicyLengthExceededException", 400)
    assert got.message.startswith("The final policy size (")
    assert got.message.endswith(") is bigger than the limit (20480).")
    statements, _ = policy(lam, name)
    assert [s["Sid"] for s in statements] == sids  # the refused one was not added
    assert len(json.dumps(statements)) < 20480


def test_aws_cli(server: Server) -> None:
    lam = server.client()
    name = fresh(lam)
    added = aws_cli(
        server.endpoint, "lambda", "add-permission", "--function-name", name,
        "--statement-id", "apigw", "--action", "lambda:InvokeFunction",
        "--principal", "apigateway.amazonaws.com",
        "--source-arn", "arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/items",
    )  # fmt: skip
    statement = json.loads(json.loads(added.stdout)["Statement"])
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    got = json.loads(
        aws_cli(server.endpoint, "lambda", "get-policy", "--function-name", name).stdout
    )
    assert [s["Sid"] for s in json.loads(got["Policy"])["Statement"]] == ["apigw"]
    aws_cli(server.endpoint, "lambda", "remove-permission", "--function-name", name,
            "--statement-id", "apigw")  # fmt: skip
    missing = aws_cli(server.endpoint, "lambda", "get-policy", "--function-name", name, check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_policies_survive_a_restart(fresh_dir: Path) -> None:
    with run_server(fresh_dir) as srv:
        lam = srv.client()
        name = fresh(lam, versions=1)
        add(lam, name, SourceArn=S3)
        add(lam, name, Qualifier="1")
        before = policy(lam, name)
        lam.delete_function(FunctionName=name, Qualifier="1")
    with run_server(fresh_dir) as srv:
        lam = srv.client()
        assert policy(lam, name) == before
        expect_error(lambda: lam.get_policy(FunctionName=name, Qualifier="1"),
                     "ResourceNotFoundException", 404, NO_RESOURCE)  # fmt: skip
