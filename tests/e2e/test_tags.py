"""TagResource, UntagResource, ListTags and CreateFunction's Tags on a real server, with
boto3 and the AWS CLI: the recorded error answers (tests/conformance, the TestLambdaTag(s)
rows, replayed here: SCENARIOS), AWS's validation, bad input that changes nothing, tags in
GetFunction, and tags surviving a restart."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apicalls import (
    ARN_PREFIX,
    deploy,
    expect_error,
    outcome_of,
    raw_request,
    unique,
)
from tests.e2e.harness import Server, aws_cli, run_server
from tests.e2e.test_conformance import Result, Row, assert_answered, load_rows

pytestmark = pytest.mark.e2e

LAMBDA = "arn:aws:lambda:us-east-1:000000000000:"
NOT_ON_QUALIFIED = (
    "Tags on function aliases and versions are not supported. Please specify a function ARN."
)
TOO_MANY = "Number of tags exceeds resource tag limit."

Scenario = Callable[[Any], Result]


def fresh(lam: Any, **kwargs: Any) -> str:
    name = unique("tags")
    deploy(lam, name, **kwargs)
    return name


def on(op: str, resource: str, names: dict[str, str] | None = None) -> Scenario:
    """`op` on `resource` (TagResource with one tag, UntagResource of one key, ListTags)."""
    table: dict[str, dict[str, Any]] = {
        "tag_resource": {"Tags": {"A": "B"}},
        "untag_resource": {"TagKeys": ["A"]},
        "list_tags": {},
    }
    args = table[op]

    def scenario(lam: Any) -> Result:
        outcome = outcome_of(lambda: getattr(lam, op)(Resource=resource, **args))
        return Result(outcome, names or {})

    return scenario


def deleted_function(op: str, placeholder: str) -> Scenario:
    def scenario(lam: Any) -> Result:
        name = fresh(lam)
        lam.delete_function(FunctionName=name)
        return on(op, ARN_PREFIX + name, {placeholder: name})(lam)

    return scenario


def on_function(op: str, suffix: str = "", **kwargs: Any) -> Scenario:
    """`op` on a fresh function's ARN + `suffix`; its tags must not change."""

    def scenario(lam: Any) -> Result:
        name = fresh(lam, Tags={"keep": "me"})
        lam.publish_version(FunctionName=name)
        outcome = outcome_of(
            lambda: getattr(lam, op)(Resource=ARN_PREFIX + name + suffix, **kwargs)
        )
        assert lam.list_tags(Resource=ARN_PREFIX + name)["Tags"] == {"keep": "me"}
        return Result(outcome, {"<resource-name>": name, "<function-name:1>": name})

    return scenario


def too_many_additional(lam: Any) -> Result:
    name = fresh(lam)
    arn = ARN_PREFIX + name
    tags = {f"{k}_key": f"{k}_value" for k in range(50)}
    lam.tag_resource(Resource=arn, Tags=tags)
    outcome = outcome_of(lambda: lam.tag_resource(Resource=arn, Tags={"a_key": "a_value"}))
    assert lam.list_tags(Resource=arn)["Tags"] == tags
    return Result(outcome, {})


ESM = f"{LAMBDA}event-source-mapping:{uuid.uuid4()}"
CAPACITY = f"{LAMBDA}capacity-provider:cp-{uuid.uuid4().hex[:8]}"
T = "TestLambdaTag::test_tag_exceptions"
TS = "TestLambdaTags::"


def kind_rows(kind: str, arn: str) -> dict[str, Scenario]:
    name = arn.split(":")[6]
    names = {"<resource-name>": name}
    foobar = f"{LAMBDA}foobar:{name}"
    return {
        f"{T}[{kind}]/not_found_exception_tag": on("tag_resource", arn, names),
        f"{T}[{kind}]/not_found_exception_untag": on("untag_resource", arn, names),
        f"{T}[{kind}]/not_found_exception_list": on("list_tags", arn, names),
        f"{T}[{kind}]/aliased_arn_exception": on("tag_resource", f"{arn}:alias", names),
        f"{T}[{kind}]/invalid_arn_exception": on("tag_resource", foobar, names),
    }


SCENARIOS: dict[str, Scenario] = {
    **{
        f"TestLambdaTag::test_tag_nonexisting_resource/not_found_exception_{short}": (
            deleted_function(op, "<function-name:1>")
        )
        for short, op in (
            ("tag", "tag_resource"),
            ("untag", "untag_resource"),
            ("list", "list_tags"),
        )
    },
    f"{TS}test_tag_exceptions/tag_lambda_invalidarn": on("tag_resource", "arn:aws:something"),
    f"{TS}test_tag_exceptions/tag_lambda_doesnotexist": on(
        "tag_resource", ARN_PREFIX + "doesnotexist"
    ),
    f"{TS}test_tag_exceptions/tag_lambda_qualifier_doesnotexist": on_function(
        "tag_resource", ":doesnotexist", Tags={"A": "B"}
    ),
    f"{TS}test_tag_exceptions/untag_empty_keys": on_function("untag_resource", TagKeys=[]),
    f"{TS}test_tag_exceptions/tag_empty_tags": on_function("tag_resource", Tags={}),
    f"{TS}test_tag_limits/tag_lambda_too_many_tags": on_function(
        "tag_resource", Tags={f"{k}_key": f"{k}_value" for k in range(51)}
    ),
    f"{TS}test_tag_limits/tag_lambda_too_many_tags_additional": too_many_additional,
    f"{TS}test_tag_lifecycle/list_tags_postdelete": deleted_function(
        "list_tags", "<function-name:1>"
    ),
    f"{TS}test_tag_versions/tag_resource_exception": on_function(
        "tag_resource", ":1", Tags={"A": "B"}
    ),
    f"{TS}test_tag_versions/tag_resource_latest_exception": on_function(
        "tag_resource", ":$LATEST", Tags={"A": "B"}
    ),
    **{
        key: scenario
        for key, scenario in kind_rows("lambda_function", ARN_PREFIX + unique("gone")).items()
        if "not_found" in key or "invalid_arn" in key
    },
    f"{T}[lambda_function]/aliased_arn_exception": on_function(
        "tag_resource", ":alias", Tags={"A": "B"}
    ),
    **kind_rows("event_source_mapping", ESM),
    **kind_rows("capacity_provider", CAPACITY),
}
# Replayed in test_conformance.py (a CreateFunction row).
ELSEWHERE = frozenset({f"{TS}test_tag_limits/create_function_invalid_tags"})


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return load_rows()


def test_every_tag_row_is_replayed(rows: dict[str, Row]) -> None:
    ours = {k for k in rows if k.startswith(("TestLambdaTag::", TS))}
    assert sorted(ours - set(SCENARIOS) - ELSEWHERE) == []
    assert sorted(set(SCENARIOS) - set(rows)) == []


@pytest.mark.parametrize("key", list(SCENARIOS), ids=list(SCENARIOS))
def test_recorded_error(key: str, rows: dict[str, Row], server: Server) -> None:
    result = SCENARIOS[key](server.client())
    assert_answered(result.outcome, rows[key], result.names)


# -- behaviour --------------------------------------------------------------------------------


def test_lifecycle(lam: Any) -> None:
    name = fresh(lam, Tags={"created": "yes"})
    arn = ARN_PREFIX + name
    assert lam.get_function(FunctionName=name)["Tags"] == {"created": "yes"}
    lam.tag_resource(Resource=arn, Tags={"A": "tag-a", "B": "tag-b"})
    lam.tag_resource(Resource=arn, Tags={"B": "tag-b2"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"created": "yes", "A": "tag-a", "B": "tag-b2"}
    lam.untag_resource(Resource=arn, TagKeys=["A", "created", "missing"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"B": "tag-b2"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"B": "tag-b2"}
    lam.untag_resource(Resource=arn, TagKeys=["B"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lam.get_function(FunctionName=name)  # AWS shows Tags only when some
    invoked = lam.invoke(FunctionName=name, Payload=b'{"still": "works"}')
    assert json.loads(invoked["Payload"].read()) == {"still": "works"}


def test_tagging_a_pending_function_keeps_the_tags(lam: Any) -> None:
    name = unique("tags")
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
        Handler="app.handler", Code={"ZipFile": _zip()},
    )  # fmt: skip
    lam.tag_resource(Resource=ARN_PREFIX + name, Tags={"early": "tag"})
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert lam.list_tags(Resource=ARN_PREFIX + name)["Tags"] == {"early": "tag"}


def _zip() -> bytes:
    from tests.e2e.harness import make_zip

    return make_zip({"app.py": "def handler(e, c):\n    return e\n"})


@pytest.mark.parametrize(
    "tags",
    [
        {"aws:reserved": "x"},
        {"AWS:Reserved": "x"},
        {"k" * 129: "v"},
        {"key": "v" * 257},
        {"bad#key": "v"},
        {"key": "bad\u0000value"},
    ],
    ids=["aws-prefix", "aws-prefix-case", "long-key", "long-value", "bad-key", "bad-value"],
)
def test_bad_tags_change_nothing(lam: Any, tags: dict[str, str]) -> None:
    name = fresh(lam, Tags={"keep": "me"})
    revision = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    got = outcome_of(lambda: lam.tag_resource(Resource=ARN_PREFIX + name, Tags=tags))
    assert got.code in ("ValidationException", "InvalidParameterValueException"), got
    assert lam.list_tags(Resource=ARN_PREFIX + name)["Tags"] == {"keep": "me"}
    assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == revision


def test_wrong_types_are_refused(server: Server) -> None:
    lam, lax = server.client(), server.client(parameter_validation=False)
    name = fresh(lam)
    arn = ARN_PREFIX + name
    raw = raw_request(server, "POST", f"/2017-03-31/tags/{arn}", {"Tags": ["A", "B"]})
    assert (raw.status, raw.error_type) == (400, "ValidationException")
    got = outcome_of(lambda: lax.tag_resource(Resource=arn, Tags={"A": 5}))
    assert got.code == "ValidationException"
    assert lam.list_tags(Resource=arn)["Tags"] == {}


def test_create_function_with_too_many_tags_creates_nothing(lam: Any) -> None:
    name = unique("tags")
    tags = {f"k{i}": "v" for i in range(51)}
    expect_error(lambda: deploy(lam, name, Tags=tags), "InvalidParameterValueException", 400,
                 TOO_MANY)  # fmt: skip
    assert outcome_of(lambda: lam.get_function(FunctionName=name)).code == (
        "ResourceNotFoundException"
    )


def test_create_function_with_reserved_tags_creates_nothing(lam: Any) -> None:
    name = unique("tags")
    got = outcome_of(lambda: deploy(lam, name, Tags={"aws:cloudformation:stack-name": "s"}))
    assert (got.code, got.status) == ("InvalidParameterValueException", 400)
    assert outcome_of(lambda: lam.get_function(FunctionName=name)).code == (
        "ResourceNotFoundException"
    )


def test_aws_cli(server: Server) -> None:
    name = fresh(server.client())
    arn = ARN_PREFIX + name
    aws_cli(
        server.endpoint, "lambda", "tag-resource", "--resource", arn, "--tags", "team=core,env=dev"
    )
    listed = json.loads(aws_cli(server.endpoint, "lambda", "list-tags", "--resource", arn).stdout)
    assert listed["Tags"] == {"team": "core", "env": "dev"}
    aws_cli(
        server.endpoint, "lambda", "untag-resource", "--resource", arn, "--tag-keys", "team", "env"
    )
    listed = json.loads(aws_cli(server.endpoint, "lambda", "list-tags", "--resource", arn).stdout)
    assert listed["Tags"] == {}


def test_tags_survive_a_restart(fresh_dir: Path) -> None:
    with run_server(fresh_dir) as srv:
        lam = srv.client()
        name = fresh(lam, Tags={"a": "1"})
        lam.tag_resource(Resource=ARN_PREFIX + name, Tags={"b": "2"})
    with run_server(fresh_dir) as srv:
        assert srv.client().list_tags(Resource=ARN_PREFIX + name)["Tags"] == {"a": "1", "b": "2"}
