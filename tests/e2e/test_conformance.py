"""AWS's recorded error answers (tests/conformance/lambda-aws-expectations.tsv, vendored
from LocalStack's snapshots, Apache-2.0: see its README), replayed against a real
`ember serve`: one test per table row whose scenario exercises an operation Ember
implements today.

Each row key (`<test>/<snapshot_key>`, `#2` on a repeated key) maps to a scenario that
makes the same calls the recording made and returns the error the last one got; the test
checks its code, HTTP status, message (placeholders replaced by our account 000000000000,
region us-east-1 and the names the scenario used) and the body fields botocore parses
(`Type`, `Reason`).

Replayed here: 121 of the table's 371 rows, among them versions and aliases
(PublishVersion's preconditions, routing configurations, alias names), reserved and
provisioned concurrency (their refusals and limits) and invoke throttles. Replayed
elsewhere: the 31 layer rows (test_layers.py), the event invoke config rows
(test_event_invoke_config.py), the code-signing rows (test_code_signing.py), the event
source mapping rows (test_event_source_mappings.py), and the permission, tag and recursion
rows (test_policies.py, test_tags.py, test_recursion.py), the container image rows
(test_images.py).
test_every_row_is_accounted_for puts every other row in one of: operations Ember does not
implement (function URLs), what Ember does not
replay on purpose (code from S3, VPC lookups, Kafka sources), and
the 68 INVOKE rows, which record what LocalStack's test functions return when invoked
(function behaviour, not Lambda's answers; invocation is tested in test_invoke.py and
test_versions_aliases.py).

Where Ember differs on purpose the row's entry in DIFFERENCES says why and what is checked
instead; scenarios that had to take another road to the same call say so in a comment.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import functools
import io
import json
import threading
import time
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
from tests.e2e.harness import ROLE, Server, make_zip, wait_until
from tests.e2e.recorded_shapes import answers_unknown_operation

pytestmark = pytest.mark.e2e

TSV = Path(__file__).resolve().parents[1] / "conformance" / "lambda-aws-expectations.tsv"
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


def assert_answered(got: Outcome, row: Row, names: dict[str, str]) -> None:
    """`got` is AWS's recorded answer `row`, to the letter: code, status, message (with
    this run's `names` for the row's placeholders) and every extra field."""
    assert (got.code, got.status) == (row.code, row.status)
    assert got.message == expected_message(row, names)
    for field, value in row.extra.items():
        assert got.fields.get(field) == value, field


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


# -- versions, aliases and concurrency ----------------------------------------------------

ALIAS = "TestLambdaAlias::test_notfound_and_invalid_routingconfigs/"
RESERVED = "TestLambdaReservedConcurrency::"
PROVISIONED = "TestLambdaProvisionedConcurrency::"
CONCURRENCY = "TestLambdaConcurrency::"
SLEEPER_CODE = (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return event\n"
)


def published(ctx: Ctx, prefix: str, files: dict[str, str | bytes] | None = None) -> str:
    """A new function with version 1 published."""
    name = unique(prefix)
    deploy(ctx.lam, name, files or {"index.py": HANDLER_CODE}, Handler="index.handler")
    ctx.lam.publish_version(FunctionName=name)
    return name


def change_and_publish(ctx: Ctx, name: str, description: str) -> str:
    ctx.lam.update_function_configuration(FunctionName=name, Description=description)
    wait_settled(ctx.lam, name)
    version: str = ctx.lam.publish_version(FunctionName=name)["Version"]
    return version


def wait_provisioned(ctx: Ctx, name: str, qualifier: str) -> None:
    def ready() -> bool:
        config = ctx.lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        assert config["Status"] != "FAILED", config
        return bool(config["Status"] == "READY")

    wait_until(ready, limit=30)


def cached(steps: Callable[[Ctx], list[Result]]) -> Callable[[int], Scenario]:
    """Scenarios that are steps of one recorded sequence: the sequence runs once, each row
    checks the error its step got."""
    results: list[Result] = []

    def step(index: int) -> Scenario:
        def scenario(ctx: Ctx) -> Result:
            if not results:
                results.extend(steps(ctx))
            return results[index]

        return scenario

    return step


def routing_function(ctx: Ctx) -> str:
    """Versions 1 and 2 and an alias `custom` (version 1, weighted to 2), made once."""
    if "routing" not in _SHARED:
        name = published(ctx, "alias-fn")
        change_and_publish(ctx, name, "v2")
        ctx.lam.create_alias(
            FunctionName=name,
            Name="custom",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        )
        _SHARED["routing"] = name
    return _SHARED["routing"]


_SHARED: dict[str, str] = {}


def create_alias_refused(function_suffix: str = "", **args: Any) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        name = routing_function(ctx)
        args.setdefault("Name", "custom-new")
        call = lambda: ctx.lax.create_alias(FunctionName=name + function_suffix, **args)  # noqa: E731
        return Result(outcome_of(call), {"<function-name:1>": name})

    return scenario


def weights(version: str, extra: dict[str, Any]) -> Scenario:
    return create_alias_refused(
        FunctionVersion=version, RoutingConfig={"AdditionalVersionWeights": extra}
    )


def publish_wrong_revision(ctx: Ctx) -> Result:
    name = unique("fn")
    deploy(ctx.lam, name)
    return Result(
        outcome_of(lambda: ctx.lam.publish_version(FunctionName=name, RevisionId="x")), {}
    )


def publish_wrong_sha(ctx: Ctx) -> Result:
    name = unique("fn")
    sha = deploy(ctx.lam, name)["CodeSha256"]
    call = lambda: ctx.lam.publish_version(FunctionName=name, CodeSha256="somenonexistentsha256")  # noqa: E731
    return Result(outcome_of(call), {"<code-sha256:1>": sha})


def update_alias_wrong_revision(ctx: Ctx) -> Result:
    name = published(ctx, "fn")
    ctx.lam.create_alias(FunctionName=name, Name="revision_alias", FunctionVersion="1")
    call = lambda: ctx.lam.update_alias(  # noqa: E731
        FunctionName=name, Name="revision_alias", RevisionId="wrong"
    )
    return Result(outcome_of(call), {})


def on_routing_function(op: str, **kwargs: Any) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        name = routing_function(ctx)
        call = getattr(ctx.lax, op)
        return Result(
            outcome_of(lambda: call(FunctionName=name, **kwargs)), {"<function-name:1>": name}
        )

    return scenario


def reserved_on_latest_arn(ctx: Ctx) -> Result:
    # The recording reads the `$LATEST`-qualified ARN from GetFunctionConfiguration.
    latest = ctx.lam.get_function_configuration(FunctionName=ctx.existing, Qualifier="$LATEST")
    assert latest["FunctionArn"] == arn(ctx.existing) + ":$LATEST"
    call = lambda: ctx.lam.put_function_concurrency(  # noqa: E731
        FunctionName=latest["FunctionArn"], ReservedConcurrentExecutions=0
    )
    return Result(outcome_of(call), {})


def limits(ctx: Ctx) -> tuple[int, int, dict[str, str]]:
    """(limit, unreserved, placeholders) of the account as it stands."""
    account = ctx.lam.get_account_settings()["AccountLimit"]
    limit, free = account["ConcurrentExecutions"], account["UnreservedConcurrentExecutions"]
    minimum = min(100, max(1, limit // 10))  # Ember's floor; AWS's 100 at the default 1,000
    return (
        limit,
        free,
        {
            "<min_unreserved_concurrency>": str(minimum),
            "<unreserved_concurrency>": str(free),
        },
    )


def reserved_over_limit(extra: int) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        limit, _, names = limits(ctx)
        call = lambda: ctx.lam.put_function_concurrency(  # noqa: E731
            FunctionName=ctx.existing, ReservedConcurrentExecutions=limit + extra
        )
        return Result(outcome_of(call), names)

    return scenario


def provisioned_over_limit(extra: int) -> Scenario:
    def scenario(ctx: Ctx) -> Result:
        limit, _, names = limits(ctx)
        name = published(ctx, "lambda_func")
        try:
            call = lambda: ctx.lam.put_provisioned_concurrency_config(  # noqa: E731
                FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=limit + extra
            )
            return Result(outcome_of(call), names)
        finally:
            ctx.lam.delete_function(FunctionName=name)

    return scenario


def provisioned_call(op: str, function: str | None, **kwargs: Any) -> Scenario:
    """`op` with the lax client on a function with version 1 (or on `function`)."""

    def scenario(ctx: Ctx) -> Result:
        if "provisioned" not in _SHARED:
            _SHARED["provisioned"] = published(ctx, "lambda_func")
        name = function or _SHARED["provisioned"]
        call = getattr(ctx.lax, op)
        outcome = outcome_of(lambda: call(FunctionName=name, **kwargs))
        return Result(outcome, {"<function-name:1>": _SHARED["provisioned"]})

    return scenario


def provisioned_lifecycle(ctx: Ctx) -> list[Result]:
    lam, name, alias = ctx.lam, published(ctx, "lambda_func"), unique("alias")
    names = {"<function-name:1>": name, "<alias-name>": alias}
    lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")

    def put(qualifier: str) -> Callable[[], Any]:
        return lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=1
        )

    try:
        put("1")()
        on_alias = outcome_of(put(alias))
        wait_provisioned(ctx, name, "1")
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        after_delete = outcome_of(
            lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        )
        put(alias)()
        on_version = outcome_of(put("1"))
        lam.delete_alias(FunctionName=name, Name=alias)
        after_alias = outcome_of(
            lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=alias)
        )
        listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
        assert listed["ProvisionedConcurrencyConfigs"] == []  # the alias took its config along
        return [Result(o, names) for o in (on_alias, after_delete, on_version, after_alias)]
    finally:
        lam.delete_function(FunctionName=name)


def invoke_throttled(ctx: Ctx, name: str, **kwargs: Any) -> Outcome:
    return outcome_of(lambda: ctx.lam.invoke(FunctionName=name, **kwargs))


def concurrency_block(ctx: Ctx) -> list[Result]:
    """Reserved 1 and 1 provisioned on version 1: $LATEST has nothing left to run on."""
    lam, name = ctx.lam, published(ctx, "fn-concurrency")
    try:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        assert lam.invoke(FunctionName=name, Qualifier="$LATEST")["StatusCode"] == 200
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )
        wait_provisioned(ctx, name, "1")
        first = invoke_throttled(ctx, name, Qualifier="$LATEST")
        assert lam.invoke(FunctionName=name, Qualifier="1")["ExecutedVersion"] == "1"
        second = invoke_throttled(ctx, name, Qualifier="$LATEST")
        return [Result(first, {}), Result(second, {})]
    finally:
        lam.delete_function(FunctionName=name)


def provisioned_moves_with_alias(ctx: Ctx) -> Result:
    lam, name, alias = ctx.lam, published(ctx, "test_lambda"), unique("test_alias")
    try:
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=alias, ProvisionedConcurrentExecutions=1
        )
        wait_provisioned(ctx, name, alias)
        second = change_and_publish(ctx, name, "moved")
        lam.update_alias(FunctionName=name, Name=alias, FunctionVersion=second)
        wait_provisioned(ctx, name, alias)
        outcome = outcome_of(
            lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=second)
        )
        return Result(outcome, {})
    finally:
        lam.delete_function(FunctionName=name)


def reserved_zero_invoke(ctx: Ctx) -> Result:
    name = unique("test_lambda")
    deploy(ctx.lam, name)
    try:
        ctx.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        return Result(invoke_throttled(ctx, name), {})
    finally:
        ctx.lam.delete_function(FunctionName=name)


def reserved_one_busy(ctx: Ctx) -> Result:
    # The recording fills the one slot with an asynchronous event that sleeps; here a
    # synchronous invoke that sleeps holds it (the same slot, taken sooner and surely).
    name = unique("test_lambda")
    deploy(ctx.lam, name, {"index.py": SLEEPER_CODE}, Handler="index.handler", Timeout=20)
    try:
        ctx.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        ctx.lam.invoke(FunctionName=name)  # warm, as the recording does
        holder_client = ctx.server.client()

        def hold() -> None:
            # The main thread's probes may hold the slot for an instant: retry until the
            # sleeper has it (bounded by the wait below).
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    holder_client.invoke(FunctionName=name, Payload=b'{"sleep": 2}')
                    return
                except holder_client.exceptions.TooManyRequestsException:
                    time.sleep(0.01)

        holder = threading.Thread(target=hold)
        holder.start()
        # Until the sleeper holds the slot, a second invoke may still get it: try again.
        outcome = wait_until(
            lambda: (o := _try_invoke(ctx, name)) and o.code == "TooManyRequestsException" and o,
            limit=5,
        )
        holder.join()
        return Result(outcome, {})
    finally:
        ctx.lam.delete_function(FunctionName=name)


def _try_invoke(ctx: Ctx, name: str) -> Outcome | None:
    try:
        ctx.lam.invoke(FunctionName=name)
    except ClientError as exc:
        return outcome_from(exc)
    return None


def reserved_provisioned_overlap(ctx: Ctx) -> list[Result]:
    lam, name = ctx.lam, published(ctx, "test_lambda")

    def provision(qualifier: str, count: int) -> Callable[[], Any]:
        return lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=count
        )

    try:
        provision("1", 2)()
        wait_provisioned(ctx, name, "1")
        lower = outcome_of(
            lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        )
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
        latest = invoke_throttled(ctx, name)
        assert lam.invoke(FunctionName=name, Qualifier="1")["ExecutedVersion"] == "1"
        second = change_and_publish(ctx, name, "v2")
        another = outcome_of(provision(second, 1))
        increase = outcome_of(provision("1", 3))
        return [Result(o, {}) for o in (lower, latest, another, increase)]
    finally:
        lam.delete_function(FunctionName=name)


# Recorded key -> (operation, FunctionName or None for the shared function, other members)
PROVISIONED_EXCEPTIONS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "get_provisioned_config_doesnotexist": (
        "get_provisioned_concurrency_config",
        None,
        {"Qualifier": "1"},
    ),
    "get_provisioned_functionname_doesnotexist": (
        "get_provisioned_concurrency_config",
        "doesnotexist",
        {"Qualifier": "noalias"},
    ),
    "get_provisioned_qualifier_doesnotexist": (
        "get_provisioned_concurrency_config",
        None,
        {"Qualifier": "noalias"},
    ),
    "get_provisioned_version_doesnotexist": (
        "get_provisioned_concurrency_config",
        None,
        {"Qualifier": "10"},
    ),
    "get_provisioned_latest": (
        "get_provisioned_concurrency_config",
        None,
        {"Qualifier": "$LATEST"},
    ),
    "list_provisioned_functionname_doesnotexist": (
        "list_provisioned_concurrency_configs",
        "doesnotexist",
        {},
    ),
    "delete_provisioned_functionname_doesnotexist": (
        "delete_provisioned_concurrency_config",
        "doesnotexist",
        {"Qualifier": "1"},
    ),
    "delete_provisioned_qualifier_doesnotexist": (
        "delete_provisioned_concurrency_config",
        None,
        {"Qualifier": "noalias"},
    ),
    "delete_provisioned_version_doesnotexist": (
        "delete_provisioned_concurrency_config",
        None,
        {"Qualifier": "10"},
    ),
    "delete_provisioned_latest": (
        "delete_provisioned_concurrency_config",
        None,
        {"Qualifier": "$LATEST"},
    ),
    "put_provisioned_invalid_param_0": (
        "put_provisioned_concurrency_config",
        None,
        {"Qualifier": "1", "ProvisionedConcurrentExecutions": 0},
    ),
    "put_provisioned_functionname_doesnotexist_alias": (
        "put_provisioned_concurrency_config",
        "doesnotexist",
        {"Qualifier": "noalias", "ProvisionedConcurrentExecutions": 1},
    ),
    "put_provisioned_functionname_doesnotexist_version": (
        "put_provisioned_concurrency_config",
        "doesnotexist",
        {"Qualifier": "1", "ProvisionedConcurrentExecutions": 1},
    ),
    "put_provisioned_qualifier_doesnotexist": (
        "put_provisioned_concurrency_config",
        None,
        {"Qualifier": "doesnotexist", "ProvisionedConcurrentExecutions": 1},
    ),
    "put_provisioned_version_doesnotexist": (
        "put_provisioned_concurrency_config",
        None,
        {"Qualifier": "10", "ProvisionedConcurrentExecutions": 1},
    ),
    "put_provisioned_latest": (
        "put_provisioned_concurrency_config",
        None,
        {"Qualifier": "$LATEST", "ProvisionedConcurrentExecutions": 1},
    ),
}  # fmt: skip
_lifecycle = cached(provisioned_lifecycle)
_block = cached(concurrency_block)
_overlap = cached(reserved_provisioned_overlap)
VERSION_SCENARIOS: dict[str, Scenario] = {
    "TestLambdaVersions::test_publish_with_wrong_revisionid/publish_wrong_revisionid_exc": (
        publish_wrong_revision
    ),
    "TestLambdaVersions::test_publish_with_wrong_sha256/publish_wrong_sha256_exc": (
        publish_wrong_sha
    ),
    "TestLambdaRevisions::test_function_revisions_version_and_alias/"
    "publish_version_revision_exception": publish_wrong_revision,
    "TestLambdaRevisions::test_function_revisions_version_and_alias/"
    "update_alias_revision_exception": update_alias_wrong_revision,
    f"{ALIAS}routing_config_exc_toomany": weights("1", {"1": 0.8, "2": 0.2}),
    f"{ALIAS}routing_config_exc_toohigh": weights("1", {"2": 2}),
    f"{ALIAS}routing_config_exc_subzero": weights("1", {"2": -1}),
    f"{ALIAS}routing_config_exc_sameversion": weights("1", {"1": 0.5}),
    f"{ALIAS}target_version_doesnotexist": weights("10", {"2": 0.5}),
    f"{ALIAS}routing_config_exc_version_doesnotexist": weights("1", {"10": 0.5}),
    f"{ALIAS}target_version_exc_version_latest": weights("$LATEST", {"1": 0.5}),
    f"{ALIAS}routing_config_exc_version_latest": weights("1", {"$LATEST": 0.5}),
    f"{ALIAS}routing_config_exc_fn_doesnotexist": create_alias_refused(
        "-unknown", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    ),
    f"{ALIAS}routing_config_exc_already_exist": create_alias_refused(
        Name="custom", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    ),
    f"{ALIAS}alias_does_not_exist_esc": on_routing_function("get_alias", Name="non-existent"),
    "TestLambdaAlias::test_alias_naming/create_alias_number_exception": create_alias_refused(
        Name="2024", FunctionVersion="1"
    ),
    "TestLambdaAlias::test_non_existent_alias_update/update_alias_response": on_routing_function(
        "update_alias", Name="non-existent", Description="x"
    ),
    f"{RESERVED}test_function_concurrency_exceptions/"
    "put_function_concurrency_with_function_name_doesnotexist": plain(
        call_on(
            "put_function_concurrency", FunctionName="doesnotexist", ReservedConcurrentExecutions=1
        )
    ),
    f"{RESERVED}test_function_concurrency_exceptions/"
    "put_function_concurrency_with_function_name_doesnotexist_and_invalid_concurrency": plain(
        call_on(
            "put_function_concurrency", FunctionName="doesnotexist", ReservedConcurrentExecutions=0
        )
    ),
    f"{RESERVED}test_function_concurrency_exceptions/"
    "put_function_concurrency_with_qualified_arn": reserved_on_latest_arn,
    f"{RESERVED}test_function_concurrency_limits/put_function_concurrency_account_limit_exceeded": (
        reserved_over_limit(1)
    ),
    f"{RESERVED}test_function_concurrency_limits/"
    "put_function_concurrency_below_unreserved_min_value": reserved_over_limit(0),
    **{
        f"{PROVISIONED}test_provisioned_concurrency_exceptions/{key}": provisioned_call(
            op, function, **kwargs
        )
        for key, (op, function, kwargs) in PROVISIONED_EXCEPTIONS.items()
    },
    **{
        f"{PROVISIONED}test_lambda_provisioned_lifecycle/{key}": _lifecycle(i)
        for i, key in enumerate(
            (
                "put_provisioned_on_alias_versionconflict",
                "get_provisioned_version_postdelete",
                "put_provisioned_on_version_conflict",
                "get_provisioned_alias_postaliasdelete",
            )
        )
    },
    f"{PROVISIONED}test_provisioned_concurrency_limits/"
    "put_provisioned_concurrency_account_limit_exceeded": provisioned_over_limit(1),
    f"{PROVISIONED}test_provisioned_concurrency_limits/"
    "put_provisioned_concurrency_below_unreserved_min_value": provisioned_over_limit(0),
    f"{CONCURRENCY}test_lambda_concurrency_block/invoke_latest_first_exc": _block(0),
    f"{CONCURRENCY}test_lambda_concurrency_block/invoke_latest_second_exc": _block(1),
    f"{CONCURRENCY}test_lambda_provisioned_concurrency_moves_with_alias/"
    "provisioned_concurrency_notfound": provisioned_moves_with_alias,
    f"{CONCURRENCY}test_reserved_concurrency/exc_no_cap_requestresponse": reserved_zero_invoke,
    f"{CONCURRENCY}test_reserved_concurrency_async_queue/too_many_requests_exc": (
        reserved_one_busy
    ),
    **{
        f"{CONCURRENCY}test_reserved_provisioned_overlap/{key}": _overlap(i)
        for i, key in enumerate(
            (
                "reserved_lower_than_provisioned_exc",
                "reserved_equals_provisioned_latest_invoke_exc",
                "reserved_equals_provisioned_another_provisioned_exc",
                "reserved_equals_provisioned_increase_provisioned_exc",
            )
        )
    },
}


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
        for op in (
            "delete_function",
            "get_function",
            "get_function_configuration",
            "get_function_concurrency",
            "get_function_code_signing_config",
        )
    },
    **{
        f"{API}test_get_function_wrong_region[{op}]/wrong_region_exception": wrong_region(op)
        for op in (
            "get_function",
            "get_function_configuration",
            "delete_function",
            "invoke",
            "get_function_event_invoke_config",
            "get_function_concurrency",
            "get_function_code_signing_config",
        )
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
    **VERSION_SCENARIOS,
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
    return load_rows()  # vendored: always here


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
    assert len(SCENARIOS) == 121  # as the module docstring says


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


# -- every row of the table, accounted for ------------------------------------------------

EIC_SCENARIO = "TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_exceptions/"
# test_event_invoke_config.py's rows outside its KEYS table.
EIC_ELSEWHERE = frozenset(
    {
        f"{EIC_SCENARIO}update_eventinvokeconfig_config_doesnotexist_with_qualifier",
        "TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_lifecycle/"
        "get_invokeconfig_postpublish",
        f"{API}test_ops_on_nonexisting_fn[get_function_event_invoke_config]/not_found_exception",
        f"{API}test_ops_on_nonexisting_version[get_function_event_invoke_config]/"
        "version_not_found_exception",
    }
)
# Rows of operations Ember does not implement: row-key prefix -> one such operation (asked
# of the server: once it answers anything but UnknownOperationException, the rows count as
# implemented and not replayed yet).
NOT_IMPLEMENTED: dict[str, str] = {
    "TestLambdaUrl::": "GetFunctionUrlConfig",
    "TestLambdaURL::": "GetFunctionUrlConfig",
    f"{API}test_ops_on_nonexisting_fn[get_function_url_config]": "GetFunctionUrlConfig",
    f"{API}test_get_function_wrong_region[get_function_url_config]": "GetFunctionUrlConfig",
    "TestLambdaEventSourceMappings::": "CreateEventSourceMapping",
    "TestCodeSigningConfig::": "GetCodeSigningConfig",
}
# Of those, the rows another module replays once the operation is there.
REPLAYED_ONCE_IMPLEMENTED = (
    "TestCodeSigningConfig::",  # test_code_signing.py
    "TestLambdaEventSourceMappings::",  # test_event_source_mappings.py
    # test_function_urls.py replays every row of the URL operations (its url_rows()).
    "TestLambdaUrl::",
    "TestLambdaURL::",
    f"{API}test_ops_on_nonexisting_fn[get_function_url_config]",
    f"{API}test_get_function_wrong_region[get_function_url_config]",
)
# Rows of implemented operations that Ember does not replay, on purpose.
NOT_REPLAYED: dict[str, str] = {
    f"{API}test_lambda_code_location_s3_errors/": "code from S3 is refused (Code.ZipFile only)",
    "TestLambdaEventSourceMappings::test_create_event_source_self_managed/": (
        "self-managed Kafka event sources are not served (SQS queues are)"
    ),
    f"{API}test_invalid_vpc_config_subnet/create-response-non-existent-subnet-id": (
        "Ember attaches no VPC, so it looks no subnet up"
    ),
    f"{API}test_invalid_vpc_config_security_group/create-response-non-existent-security-group": (
        "Ember attaches no VPC, so it looks no security group up"
    ),
}


def _first(key: str, table: dict[str, str]) -> str | None:
    return next((value for prefix, value in table.items() if key.startswith(prefix)), None)


def test_every_row_is_accounted_for(
    rows: dict[str, Row], ctx: Ctx, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e import test_event_invoke_config, test_layers

    elsewhere = {f"TestLambdaLayer::{key}" for key in test_layers.SCENARIOS}
    elsewhere |= {EIC_SCENARIO + key for key in test_event_invoke_config.KEYS}
    elsewhere |= EIC_ELSEWHERE
    from tests.e2e import test_policies, test_tags

    elsewhere |= set(test_policies.SCENARIOS) | set(test_tags.SCENARIOS)
    from tests.e2e import test_images

    elsewhere |= set(test_images.SCENARIOS)
    from tests.e2e import test_recursion

    elsewhere |= test_recursion.REPLAYED
    probed: dict[str, bool] = {}
    tally: collections.Counter[str] = collections.Counter()
    for key, row in rows.items():
        operation = _first(key, NOT_IMPLEMENTED)
        if key in SCENARIOS:
            tally["differs on purpose" if key in DIFFERENCES else "exact"] += 1
        elif key in elsewhere:
            tally["exact (replayed in another module)"] += 1
        elif row.code.startswith("INVOKE"):
            tally["function output (INVOKE rows)"] += 1
        elif _first(key, NOT_REPLAYED) is not None:
            tally["differs on purpose (not replayed)"] += 1
        elif operation is not None:
            if operation not in probed:
                probed[operation] = answers_unknown_operation(ctx.lax, operation)
            if probed[operation]:
                tally["operation not implemented"] += 1
            elif key.startswith(REPLAYED_ONCE_IMPLEMENTED):
                tally["exact (replayed in another module)"] += 1
            else:
                tally["implemented, no replay yet"] += 1
        else:
            tally["unaccounted"] += 1
            print("unaccounted:", key)
    with capsys.disabled():
        print(f"\nrecorded errors: {len(rows)}")
        for name, count in sorted(tally.items()):
            print(f"  {name}: {count}")
    assert tally["unaccounted"] == 0
    assert sum(tally.values()) == len(rows) == 371
