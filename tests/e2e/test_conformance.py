"""AWS's recorded answers (shared/conformance/lambda-aws-expectations.tsv), replayed against
a real `ember serve`: one test per table row whose scenario exercises an operation Ember
implements today.

Each row key (`<test>/<snapshot_key>`, `#2` on a repeated key) maps to a scenario that
makes the same calls the recording made and returns the error the last one got; the test
checks its code, HTTP status, message (placeholders replaced by our account 000000000000,
region us-east-1 and the names the scenario used) and the body fields botocore parses
(`Type`, `Reason`).

Covered: 63 of the table's 371 rows. Left out, because Ember does not implement their
operations yet: versions and aliases (PublishVersion, CreateAlias, …), tags, layers,
permissions, function URLs, code signing, event invoke configs, event source mappings,
concurrency and provisioned concurrency, recursion configs, VPC, container images, S3 code
and SnapStart's behaviour (240 error rows); and the 68 INVOKE rows, which record what
functions return when invoked (invocation behaviour, tested elsewhere).

Where Ember differs on purpose the row's entry in DIFFERENCES says why and what is checked
instead; scenarios that had to take another road to the same call say so in a comment.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.apicalls import (
    ACCOUNT,
    ARN_PREFIX,
    HANDLER_CODE,
    REGION,
    RUNTIME,
    Outcome,
    arn,
    deploy,
    function_names,
    outcome_from,
    outcome_of,
    unique,
    wait_settled,
)
from tests.e2e.harness import ROLE, Server, make_zip

pytestmark = pytest.mark.e2e

TSV = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "lambda-aws-expectations.tsv"
MAX_ZIPPED = 52_428_800
MAX_UNZIPPED = 262_144_000
CREATE_REQUEST_LIMIT = 70_167_211
SOME_FUNCTION = ARN_PREFIX + "some-function"  # the recordings' never-created function
OTHER_REGION = "eu-central-1"


@dataclasses.dataclass(frozen=True)
class Row:
    code: str
    status: int
    extra: dict[str, Any]
    message: str


@dataclasses.dataclass(frozen=True)
class Ctx:
    server: Server
    lam: Any  # boto3 Lambda client
    lax: Any  # the same without botocore's client-side parameter checks
    existing: str  # an Active function that read-only scenarios share


@dataclasses.dataclass(frozen=True)
class Result:
    outcome: Outcome
    names: dict[str, str]  # placeholder -> the value this run used


Scenario = Callable[[Ctx], Result]


def load_rows() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    with TSV.open(newline="") as f:
        for record in csv.DictReader(f, delimiter="\t"):
            key = f"{record['test']}/{record['snapshot_key']}"
            if key in rows:
                key += "#2"
            extra = record["extra"]
            rows[key] = Row(
                code=record["error_code_or_INVOKE"],
                status=int(record["http_status"]),
                extra=json.loads(extra) if extra else {},
                message=record["message_or_payload"],
            )
    return rows


def expected_message(row: Row, names: dict[str, str]) -> str:
    message = row.message
    for placeholder, value in names.items():
        message = message.replace(placeholder, value)
    return (
        message.replace("<partition>", "aws")
        .replace("<region>", REGION)
        .replace("111111111111", ACCOUNT)
    )


# -- building blocks --------------------------------------------------------------------


def create_args(name: str, **overrides: Any) -> dict[str, Any]:
    # The recordings create python3.9 and python3.12 functions; a server runs only the Python
    # runtimes it finds, its own always among them. No check replayed here depends on which.
    args: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": make_zip({"index.py": HANDLER_CODE})},
    }
    args.update(overrides)
    return args


def refused_create(**overrides: Any) -> Scenario:
    """CreateFunction of a fresh name with these members; the function must not appear."""

    def scenario(ctx: Ctx) -> Result:
        args = create_args(unique("invalid-function"), **overrides)
        before = function_names(ctx.lam)
        outcome = outcome_of(lambda: ctx.lax.create_function(**args))
        assert function_names(ctx.lam) == before
        return Result(outcome, {"<function-name>": args["FunctionName"].split(":")[-1]})

    return scenario


def refused_update(**changes: Any) -> Scenario:
    """UpdateFunctionConfiguration of the shared function; its revision must not move."""

    def scenario(ctx: Ctx) -> Result:
        before = ctx.lam.get_function_configuration(FunctionName=ctx.existing)["RevisionId"]
        outcome = outcome_of(
            lambda: ctx.lax.update_function_configuration(FunctionName=ctx.existing, **changes)
        )
        after = ctx.lam.get_function_configuration(FunctionName=ctx.existing)["RevisionId"]
        assert after == before
        return Result(outcome, {"<function-name:1>": ctx.existing})

    return scenario


def call_on(op: str, **kwargs: Any) -> Callable[[Ctx], Any]:
    return lambda ctx: getattr(ctx.lam, op)(**kwargs)


def stored_zip(code_size: int) -> bytes:
    """A zip that stores (does not compress) one file of `code_size` bytes, as the
    recordings' archives did: its size is about the code's."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("index.py", HANDLER_CODE + "#" * (code_size - len(HANDLER_CODE)))
    return buffer.getvalue()


@functools.cache
def unzipped_too_large() -> bytes:
    """About 250 KB zipped, one byte over Lambda's 250 MB unzipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("index.py", HANDLER_CODE + "#" * (MAX_UNZIPPED + 1 - len(HANDLER_CODE)))
    return buffer.getvalue()


# -- scenarios --------------------------------------------------------------------------


def delete_after_delete(ctx: Ctx) -> Result:
    name = unique("fn")
    deploy(ctx.lam, name)
    ctx.lam.delete_function(FunctionName=name)
    outcome = outcome_of(lambda: ctx.lam.delete_function(FunctionName=name))
    return Result(outcome, {"<function-name:1>": name})


def arn_qualifier(op: str, suffix: str) -> Scenario:
    """`op` on some-function's ARN with `suffix`, and Qualifier=$LATEST."""

    def scenario(ctx: Ctx) -> Result:
        call = getattr(ctx.lam, op)
        return Result(
            outcome_of(lambda: call(FunctionName=SOME_FUNCTION + suffix, Qualifier="$LATEST")),
            {},
        )

    return scenario


def on_existing(op: str, **kwargs: Any) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        call = getattr(ctx.lam, op)
        outcome = outcome_of(lambda: call(FunctionName=ctx.existing, **kwargs))
        return Result(outcome, {"<fn-name>": ctx.existing, "<function-name:1>": ctx.existing})

    return scenario


def delete_on_nonexisting_version(step: int) -> Scenario:
    """Deleting a version that does not exist succeeds (twice); once the function is gone,
    both deletes name the unqualified function."""

    def scenario(ctx: Ctx) -> Result:
        name = unique("i-exist")
        deploy(ctx.lam, name)
        ctx.lam.delete_function(FunctionName=name, Qualifier="1233")
        ctx.lam.delete_function(FunctionName=name, Qualifier="1233")
        assert ctx.lam.get_function_configuration(FunctionName=name)["State"] == "Active"
        ctx.lam.delete_function(FunctionName=name)
        outcomes = [
            outcome_of(lambda: ctx.lam.delete_function(FunctionName=name)),
            outcome_of(lambda: ctx.lam.delete_function(FunctionName=name, Qualifier="1233")),
        ]
        return Result(outcomes[step], {"<fn-name>": name})

    return scenario


def on_nonexisting(op: str) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        name = unique("i-dont-exist")
        call = getattr(ctx.lam, op)
        return Result(outcome_of(lambda: call(FunctionName=name)), {"<nonexisting-fn-name>": name})

    return scenario


def wrong_region(op: str) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        other = f"arn:aws:lambda:{OTHER_REGION}:{ACCOUNT}:function:{ctx.existing}"
        call = getattr(ctx.lam, op)
        return Result(
            outcome_of(lambda: call(FunctionName=other)),
            {"<wrong-region>": OTHER_REGION, "<fn-name>": ctx.existing},
        )

    return scenario


def alias_by_arn_not_found(ctx: Ctx) -> Result:
    name = f"{arn(ctx.existing)}:aliasdoesnotexist"
    outcome = outcome_of(lambda: ctx.lam.get_function(FunctionName=name))
    return Result(outcome, {"<function-name:1>": ctx.existing})


def large_environment(variables: dict[str, str]) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        return refused_create(Environment={"Variables": variables})(ctx)

    return scenario


def oversized_request(ctx: Ctx) -> Result:
    # Just under the zipped limit (it is checked first), then an environment that takes the
    # request over its own limit.
    package = stored_zip(MAX_ZIPPED - 1024)
    padding = "#" * (CREATE_REQUEST_LIMIT - MAX_ZIPPED + 1024 * 1024)
    return refused_create(
        Code={"ZipFile": package},
        Timeout=10,
        Environment={"Variables": {"largeKey": padding}},
    )(ctx)


def oversized_zipped(ctx: Ctx) -> Result:
    # Code of exactly the zipped limit: the zip's own headers take it over.
    return refused_create(Code={"ZipFile": stored_zip(MAX_ZIPPED)}, Timeout=10)(ctx)


def oversized_unzipped(ctx: Ctx) -> Result:
    # The recording uploads this zip through S3 (Code.S3Bucket/S3Key); Ember takes code as
    # Code.ZipFile only, so the same zip goes inline. The check and its answer are the same.
    return refused_create(Code={"ZipFile": unzipped_too_large()})(ctx)


def vpc_refused(member: str, placeholder: str, value: str) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        config = {"SubnetIds": [], "SecurityGroupIds": [], member: [value]}
        result = refused_create(VpcConfig=config)(ctx)
        return Result(result.outcome, {placeholder: value})

    return scenario


def long_function_arn(ctx: Ctx) -> Result:
    name = "a" * (140 - len(ARN_PREFIX) + 1)
    outcome = outcome_of(lambda: ctx.lam.create_function(**create_args(ARN_PREFIX + name)))
    return Result(outcome, {"<function-name>": name})


def update_during_update(second: str) -> Scenario:
    """An update while the previous one is still InProgress is refused (409)."""

    def scenario(ctx: Ctx) -> Result:
        # A package of many files keeps its unpacking (the InProgress window) long enough
        # for the next request to land inside it.
        files: dict[str, str | bytes] = {f"pkg/m{i}.py": "x = 1\n" for i in range(2000)}
        files["index.py"] = HANDLER_CODE
        name = unique("busy")
        deploy(ctx.lam, name, files)
        try:
            for attempt in range(5):
                first = make_zip({**files, "index.py": HANDLER_CODE + f"# {attempt}a\n"})
                again = make_zip({**files, "index.py": HANDLER_CODE + f"# {attempt}b\n"})
                ctx.lam.update_function_code(FunctionName=name, ZipFile=first)
                try:
                    if second == "code":
                        ctx.lam.update_function_code(FunctionName=name, ZipFile=again)
                    else:
                        # The recording races two configuration updates; Ember settles one
                        # of those within a millisecond, too fast to race reliably, so the
                        # update in progress here is a code update. The refused call is the
                        # same.
                        ctx.lam.update_function_configuration(FunctionName=name, Description="2")
                except ClientError as exc:
                    return Result(outcome_from(exc), {"<function-name:1>": name})
                wait_settled(ctx.lam, name)
            raise AssertionError("the second update never found the first still in progress")
        finally:
            wait_settled(ctx.lam, name)
            ctx.lam.delete_function(FunctionName=name)

    return scenario


def invoke_payload(payload: bytes) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        outcome = outcome_of(lambda: ctx.lam.invoke(FunctionName=ctx.existing, Payload=payload))
        return Result(outcome, {})

    return scenario


def plain(call: Callable[[Ctx], Any]) -> Scenario:
    return lambda ctx: Result(outcome_of(lambda: call(ctx)), {})


def invoke_alias_not_found(ctx: Ctx) -> Result:
    outcome = outcome_of(
        lambda: ctx.lam.invoke(FunctionName=ctx.existing, Qualifier="non-existent-alias")
    )
    return Result(outcome, {"<function-name:1>": ctx.existing})


API = "TestLambdaFunction::"
DEPRECATED = "TestRuntimeValidation::test_create_deprecated_function_runtime_with_validation_"
SCENARIOS: dict[str, Scenario] = {
    f"{API}test_function_lifecycle/delete_postdelete": delete_after_delete,
    **{
        f"{API}test_ops_with_arn_qualifier_mismatch[{op}]/not_match_exception": arn_qualifier(
            op, ":1"
        )
        for op in ("delete_function", "get_function", "get_function_configuration")
    },
    **{
        f"{API}test_ops_with_arn_qualifier_mismatch[{op}]/match_exception": arn_qualifier(
            op, ":$LATEST"
        )
        for op in ("delete_function", "get_function", "get_function_configuration")
    },
    **{
        f"{API}test_ops_on_nonexisting_version[{op}]/version_not_found_exception": on_existing(
            op, Qualifier="1221"
        )
        for op in ("get_function", "get_function_configuration")
    },
    f"{API}test_delete_on_nonexisting_version/delete_function_response_non_existent": (
        delete_on_nonexisting_version(0)
    ),
    f"{API}test_delete_on_nonexisting_version/"
    "delete_function_response_non_existent_with_qualifier": delete_on_nonexisting_version(1),
    **{
        f"{API}test_ops_on_nonexisting_fn[{op}]/not_found_exception": on_nonexisting(op)
        for op in ("delete_function", "get_function", "get_function_configuration")
    },
    **{
        f"{API}test_get_function_wrong_region[{op}]/wrong_region_exception": wrong_region(op)
        for op in ("get_function", "get_function_configuration", "delete_function", "invoke")
    },
    "TestLambdaAlias::test_alias_lifecycle/get_function_alias_notfound_exc": on_existing(
        "get_function", Qualifier="aliasdoesnotexist"
    ),
    "TestLambdaAlias::test_alias_lifecycle/get_function_alias_byarn_notfound_exc": (
        alias_by_arn_not_found
    ),
    "TestLambdaSizeLimits::test_oversized_lambda/invalid_param_exc": oversized_unzipped,
    "TestLambdaSizeLimits::test_oversized_unzipped_lambda/invalid_param_exc": oversized_unzipped,
    "TestLambdaSizeLimits::test_large_environment_variables_fails/failed_create_fn_result": (
        large_environment({"LARGE_VAR": "x" * (4 * 1024 - 6 - len("LARGE_VAR"))})
    ),
    "TestLambdaSizeLimits::test_large_environment_fails_multiple_keys/"
    "failured_create_fn_result_multi_key": large_environment(
        {"SMALL_VAR": "ok", "LARGE_VAR": "x" * 4064}
    ),
    "TestLambdaTags::test_tag_limits/create_function_invalid_tags": refused_create(
        Tags={f"{k}_key": f"{k}_value" for k in range(51)}
    ),
    "TestLambdaSizeLimits::test_oversized_request_create_lambda/invalid_param_exc": (
        oversized_request
    ),
    "TestLambdaSizeLimits::test_oversized_zipped_create_lambda/invalid_param_exc": (
        oversized_zipped
    ),
    f"{API}test_create_lambda_exceptions/invalid_role_arn_exc": refused_create(Role="r1"),
    f"{API}test_create_lambda_exceptions/invalid_runtime_exc": refused_create(
        Runtime="non-existent-runtime"
    ),
    f"{API}test_create_lambda_exceptions/uppercase_runtime_exc": refused_create(
        Runtime="PYTHON3.9"
    ),
    f"{API}test_create_lambda_exceptions/multiple_architectures": refused_create(
        Architectures=["x86_64", "arm64"]
    ),
    f"{API}test_create_lambda_exceptions/uppercase_architecture": refused_create(
        Architectures=["X86_64"]
    ),
    f"{API}test_create_lambda_exceptions/invalid_zip_exc": refused_create(
        Code={"ZipFile": b"this is not a zipfile, just a random string"}
    ),
    f"{API}test_update_lambda_exceptions/invalid_role_arn_exc": refused_update(Role="r1"),
    f"{API}test_update_lambda_exceptions/invalid_runtime_exc": refused_update(
        Runtime="non-existent-runtime"
    ),
    f"{API}test_update_lambda_exceptions/uppercase_runtime_exc": refused_update(
        Runtime="PYTHON3.9"
    ),
    f"{API}test_list_functions/list_functions_invalid_functionversion": plain(
        call_on("list_functions", FunctionVersion="invalid")
    ),
    "TestLambdaRevisions::test_function_revisions_basic/update_function_revision_exception": (
        on_existing(
            "update_function_code",
            ZipFile=make_zip({"index.py": HANDLER_CODE}),
            RevisionId="wrong",
        )
    ),
    "TestLambdaRevisions::test_function_revisions_basic/"
    "update_function_configuration_revision_exception": refused_update(
        Runtime="python3.8", RevisionId="wrong"
    ),
    "TestLambdaSnapStart::test_snapstart_exceptions/create_function_invalid_snapstart_apply": (
        refused_create(
            Runtime="java11",
            Handler="cloud.localstack.sample.LambdaHandlerWithLib",
            SnapStart={"ApplyOn": "invalidOption"},
        )
    ),
    # VpcConfig is checked against the model; Ember attaches no VPC (row 273's subnet
    # lookup is left out with the rest of VPC).
    f"{API}test_invalid_vpc_config_subnet/create-response-invalid-format-subnet-id": (
        vpc_refused("SubnetIds", "<subnet_id_2>", "not-a-subnet")
    ),
    f"{API}test_invalid_vpc_config_security_group/"
    "create-response-invalid-format-security-group": vpc_refused(
        "SecurityGroupIds", "<security_group_id_2>", "not-a-group"
    ),
    f"{API}test_function_arns/invalid_function_name_exc": refused_create(
        FunctionName="invalid:function:name"
    ),
    f"{API}test_function_arns/long_function_name_exc": refused_create(FunctionName="a" * 65),
    f"{API}test_function_arns/long_function_arn_exc": long_function_arn,
    f"{API}test_function_arns/function_arn_other_region_exc": refused_create(
        FunctionName=f"arn:aws:lambda:ap-southeast-1:{ACCOUNT}:function:{unique('arn')}"
    ),
    f"{API}test_function_arns/function_arn_other_account_exc": refused_create(
        FunctionName=f"arn:aws:lambda:{REGION}:123456789012:function:{unique('arn')}"
    ),
    f"{API}test_invalid_invoke/invoke_function_name_pattern_exc": plain(
        call_on(
            "invoke",
            FunctionName=f"arn:aws:lambda:{REGION}:123400000000@function:myfn",
            Payload=b"{}",
        )
    ),
    f"{API}test_lambda_concurrent_code_updates/update-during-in-progress-update-exc": (
        update_during_update("code")
    ),
    f"{API}test_lambda_concurrent_config_updates/update-during-in-progress-update-exc": (
        update_during_update("configuration")
    ),
    **{
        f"{DEPRECATED}enabled[{runtime}]/deprecation_error": refused_create(Runtime=runtime)
        for runtime in (
            "java8",
            "go1.x",
            "provided",
            "ruby2.7",
            "nodejs14.x",
            "python3.7",
            "dotnetcore3.1",
            "nodejs12.x",
        )
    },
    "TestLambdaAliases::test_lambda_alias_moving/invocation_exc_not_existent": (
        invoke_alias_not_found
    ),
    "TestLambdaFeatures::test_invoke_exceptions/invoke_function_doesnotexist": plain(
        call_on("invoke", FunctionName="doesnotexist")
    ),
    "TestLambdaFeatures::test_invoke_exceptions/invoke_function_doesnotexist#2": plain(
        call_on("invoke", FunctionName="doesnotexist")
    ),
    "TestLambdaErrors::test_lambda_invoke_payload_encoding_error"
    r"[body-n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt]/invoke_function_invalid_payload_body": (
        invoke_payload(b"n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt")
    ),
    "TestLambdaErrors::test_lambda_invoke_payload_encoding_error"
    r"[message-\x99\xeb,j\x07\xa1zYh]/invoke_function_invalid_payload_message": (
        invoke_payload(b"\x99\xeb,j\x07\xa1zYh")
    ),
}


# -- where Ember answers differently on purpose -----------------------------------------


@dataclasses.dataclass(frozen=True)
class Difference:
    why: str
    check: Callable[[str, str], bool]  # (Ember's message, AWS's message) -> acceptable


PAYLOAD_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
DIFFERENCES: dict[str, Difference] = {
    f"{API}test_function_arns/function_arn_other_account_exc": Difference(
        "AWS's recorded message is empty; Ember says which account it serves.",
        lambda ours, _aws: "123456789012" in ours and ACCOUNT in ours,
    ),
    "TestLambdaFeatures::test_invoke_exceptions/invoke_function_doesnotexist#2": Difference(
        "The table records this call twice with two answers: the unqualified ARN (the row "
        "before) and the ARN with ':$LATEST'. Ember gives the first, as it does (and AWS "
        "does) for GetFunction and DeleteFunction of a missing function.",
        lambda ours, aws: ours == aws.removesuffix(":$LATEST"),
    ),
    **{
        "TestLambdaErrors::test_lambda_invoke_payload_encoding_error"
        f"[{label}]/invoke_function_invalid_payload_{kind}": Difference(
            "After AWS's fixed prefix comes the JSON parser's own description of the fault; "
            "AWS's parser is Jackson, Ember's is orjson, so that part reads differently.",
            lambda ours, aws: (
                aws.startswith(PAYLOAD_PREFIX)
                and ours.startswith(PAYLOAD_PREFIX)
                and len(ours) > len(PAYLOAD_PREFIX)
            ),
        )
        for label, kind in (
            (r"body-n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt", "body"),
            (r"message-\x99\xeb,j\x07\xa1zYh", "message"),
        )
    },
}


# -- the tests --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    if not TSV.is_file():
        pytest.skip(f"AWS's recorded answers are not here: {TSV} is missing")
    return load_rows()


@pytest.fixture(scope="module")
def ctx(server: Server) -> Iterator[Ctx]:
    lam = server.client()
    existing = unique("conformance")
    deploy(lam, existing, {"index.py": HANDLER_CODE}, Handler="index.handler")
    yield Ctx(server, lam, server.client(parameter_validation=False), existing)
    lam.delete_function(FunctionName=existing)


def test_every_scenario_names_a_row_of_the_table(rows: dict[str, Row]) -> None:
    assert sorted(set(SCENARIOS) - set(rows)) == []
    assert sorted(set(DIFFERENCES) - set(SCENARIOS)) == []
    assert len(SCENARIOS) == 63  # as the module docstring says


@pytest.mark.parametrize("key", list(SCENARIOS), ids=list(SCENARIOS))
def test_row(key: str, rows: dict[str, Row], ctx: Ctx) -> None:
    row = rows[key]
    result = SCENARIOS[key](ctx)
    got = result.outcome
    assert (got.code, got.status) == (row.code, row.status)
    aws_message = expected_message(row, result.names)
    difference = DIFFERENCES.get(key)
    if difference is None:
        assert got.message == aws_message
    else:
        assert difference.check(got.message, aws_message), (difference.why, got.message)
    for field, value in row.extra.items():
        assert got.fields.get(field) == value, field
