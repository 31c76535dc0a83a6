"""AWS's recorded successful answers (tests/conformance/lambda-aws-response-shapes.jsonl,
884 answers of 60 operations) replayed against a real `ember serve`, one test per answer.

For every answer of an operation Ember implements, a replay (tests/e2e/shape_replays.py)
builds what the answer shows and makes the same call; the test then compares Ember's member
paths with the recorded `keys` (which members appear, how they nest) and every recorded
value that is not a placeholder (`<function-name:1>`, `date`, …) with Ember's, and checks
the HTTP status. A function's own output (Invoke's Payload) counts by its presence only.

Answers of operations that Ember answers with UnknownOperationException are skipped and
counted (test_tally prints the count); so are operations implemented after this table was
written and not replayed yet. Where Ember differs on purpose, DIFFERENCES names the members
it leaves out of the comparison for the answers it applies to, and why.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.apicalls import HANDLER_CODE, function_names, unique
from tests.e2e.harness import ROLE, Server, make_zip
from tests.e2e.recorded_shapes import (
    Recorded,
    answers_unknown_operation,
    load,
    masked,
    member_paths,
    readable,
    strip,
    value_differences,
)
from tests.e2e.shape_replays import REPLAYS, Ctx, configuration

pytestmark = pytest.mark.e2e

ROWS = load()
FUNCTION_SHAPED = frozenset(
    {
        "CreateFunction", "GetFunction", "GetFunctionConfiguration",
        "UpdateFunctionConfiguration", "UpdateFunctionCode", "PublishVersion",
        "ListVersionsByFunction", "ListFunctions",
    }
)  # fmt: skip
_EIC = frozenset(
    {
        "PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig",
        "UpdateFunctionEventInvokeConfig", "ListFunctionEventInvokeConfigs",
    }
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Difference:
    why: str
    applies: Callable[[Recorded, frozenset[str]], bool]  # (answer, runtimes installed)
    members: tuple[str, ...]  # left out of the comparison, wherever the configuration sits


def _configs(row: Recorded) -> list[dict[str, Any]]:
    if row.operation not in FUNCTION_SHAPED:
        return []
    listed = row.body.get("Versions") or row.body.get("Functions")
    return [dict(c) for c in listed] if listed else [configuration(row)]


def _any_config(test: Callable[[dict[str, Any]], bool]) -> Callable[[Recorded, Any], bool]:
    return lambda row, _installed: any(test(c) for c in _configs(row))


def _mappings(row: Recorded) -> list[dict[str, Any]]:
    if "EventSourceMapping" not in row.operation:
        return []
    return list(row.body.get("EventSourceMappings", [row.body]))


def _foreign_destination(row: Recorded, _installed: Any) -> bool:
    docs = row.body.get("FunctionEventInvokeConfigs", [row.body]) if row.operation in _EIC else []
    docs = docs + _mappings(row)
    return any(
        not any(f":{kind}:" in target.get("Destination", ":function:")
                for kind in ("function", "sqs", "sns"))
        for doc in docs
        for target in doc.get("DestinationConfig", {}).values()
    )  # fmt: skip


DIFFERENCES: dict[str, Difference] = {
    "runtime not installed": Difference(
        "The recorded runtime (Java, Node.js, .NET, Ruby, or a Python this machine lacks) does "
        "not run on this server; the replay uses the server's own Python, so Runtime differs.",
        lambda row, installed: any(
            "Runtime" in c and c["Runtime"] not in installed for c in _configs(row)
        ),
        ("Runtime",),
    ),
    "snapstart": Difference(
        "Recorded with SnapStart on a runtime the replay does not create it for (the replay "
        "uses the server's own Python); Ember's SnapStart is tested in test_snapstart.py.",
        _any_config(lambda c: c.get("SnapStart", {}).get("ApplyOn", "None") != "None"),
        ("SnapStart",),
    ),
    "vpc": Difference(
        "Ember attaches functions to no VPC; the replay gives none, so VpcConfig is absent.",
        _any_config(lambda c: "VpcConfig" in c),
        ("VpcConfig",),
    ),
    "recorded before LoggingConfig": Difference(
        "An older recording: AWS added LoggingConfig to every answer in 2023, after it.",
        _any_config(lambda c: c.get("PackageType") == "Zip" and "LoggingConfig" not in c),
        ("LoggingConfig",),
    ),
    "recorded before SnapStart": Difference(
        "An older recording: AWS has shown SnapStart for every function since 2022, after it.",
        _any_config(lambda c: c.get("PackageType") == "Zip" and "SnapStart" not in c),
        ("SnapStart",),
    ),
    "recorded before RuntimeVersionConfig": Difference(
        "An older recording: AWS added RuntimeVersionConfig in 2023, after it.",
        lambda row, _installed: (
            row.operation not in ("ListVersionsByFunction", "ListFunctions")
            and any(
                c.get("PackageType") == "Zip" and "RuntimeVersionConfig" not in c
                for c in _configs(row)
            )
        ),
        ("RuntimeVersionConfig",),
    ),
    "provisioned mid-move": Difference(
        "Recorded while AWS moved provisioned environments to a new alias target (IN_PROGRESS "
        "with one allocated); Ember's move answers IN_PROGRESS with none allocated yet.",
        lambda row, _installed: (
            row.body.get("Status") == "IN_PROGRESS"
            and row.body.get("AllocatedProvisionedConcurrentExecutions", 0) > 0
        ),
        ("AllocatedProvisionedConcurrentExecutions", "AvailableProvisionedConcurrentExecutions"),
    ),
    "version published once settled": Difference(
        "CreateFunction and UpdateFunctionCode with Publish=True answer at once with the "
        "version's number, Pending, as AWS does; but the version itself appears once the "
        "create (or update) has settled, as its own Active self, where AWS shows it at once, "
        "Pending. The replay reads it once it exists.",
        lambda row, _installed: (
            row.operation in ("GetFunction", "GetFunctionConfiguration")
            and configuration(row).get("State") == "Pending"
            and configuration(row).get("Version", "$LATEST") != "$LATEST"
        ),
        ("State", "StateReason", "StateReasonCode", "LastUpdateStatus"),
    ),
    "tags set by AWS": Difference(
        "Tags whose keys start with aws: are set by AWS itself (CloudFormation); users cannot "
        "set them, on AWS or on Ember, so the replay has none and Tags is not compared.",
        lambda row, _installed: any(k.startswith("aws:") for k in row.body.get("Tags", {})),
        ("Tags",),
    ),
    "foreign destinations": Difference(
        "Ember's asynchronous destinations are its functions, queues and topics, and a stream "
        "mapping's on-failure destinations its queues and topics; EventBridge and S3 "
        "destinations are refused, so the replay sets none and DestinationConfig is not "
        "compared.",
        _foreign_destination,
        ("DestinationConfig",),
    ),
    "recorded before EventSourceMappingArn": Difference(
        "An older recording, made before AWS added EventSourceMappingArn to every mapping.",
        lambda row, _installed: any(
            "UUID" in m and "EventSourceMappingArn" not in m for m in _mappings(row)
        ),
        ("EventSourceMappingArn",),
    ),
}


def differences(row: Recorded, installed: frozenset[str]) -> list[str]:
    return [name for name, d in DIFFERENCES.items() if d.applies(row, installed)]


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx(server: Server) -> Iterator[Ctx]:
    lam = server.client()
    runtimes = {c["Runtime"] for row in ROWS for c in _configs(row) if "Runtime" in c}
    installed = set()
    for runtime in sorted(runtimes):
        name = unique("runtime-probe")
        try:
            lam.create_function(
                FunctionName=name, Runtime=runtime, Role=ROLE, Handler="index.handler",
                Code={"ZipFile": make_zip({"index.py": HANDLER_CODE})},
            )  # fmt: skip
        except ClientError:
            continue
        installed.add(runtime)
        lam.delete_function(FunctionName=name)
    before = set(function_names(lam))
    yield Ctx(server, lam, server.client(parameter_validation=False), frozenset(installed))
    # The replays' functions go, so that later tests on the shared server list few.
    for name in sorted(set(function_names(lam)) - before):
        with contextlib.suppress(ClientError):
            lam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def unknown(ctx: Ctx) -> frozenset[str]:
    """The recorded operations Ember answers with UnknownOperationException."""
    operations = sorted({row.operation for row in ROWS} - set(REPLAYS))
    return frozenset(op for op in operations if answers_unknown_operation(ctx.lax, op))


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=[row.key for row in ROWS])
def test_recorded_answer(row: Recorded, ctx: Ctx, unknown: frozenset[str]) -> None:
    if row.operation in unknown:
        pytest.skip(f"Ember does not implement {row.operation} (UnknownOperationException)")
    replay = REPLAYS.get(row.operation)
    if replay is None:
        pytest.skip(f"{row.operation} is implemented but has no replay yet: add one")
    answer = replay(ctx, row)
    if row.status is not None:
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == row.status
    ours = readable(row.operation, answer)
    members = [m for name in differences(row, ctx.installed) for m in DIFFERENCES[name].members]
    our_keys = {p for p in member_paths(row.operation, ours) if not masked(p, members)}
    aws_keys = {p for p in row.keys if not masked(p, members)}
    assert (sorted(our_keys - aws_keys), sorted(aws_keys - our_keys)) == ([], []), (
        "(members only Ember shows, members only AWS shows)"
    )
    assert value_differences(strip(ours, members), strip(row.body, members)) == []


def test_tally(ctx: Ctx, unknown: frozenset[str], capsys: pytest.CaptureFixture[str]) -> None:
    """How the recorded answers fare: exact, different on purpose, or not Ember's yet."""
    tally: collections.Counter[str] = collections.Counter()
    for row in ROWS:
        if row.operation in unknown:
            tally["operation not implemented"] += 1
        elif row.operation not in REPLAYS:
            tally["implemented, no replay yet"] += 1
        elif differences(row, ctx.installed):
            tally["differs on purpose"] += 1
            for name in differences(row, ctx.installed):
                tally[f"  {name}"] += 1
        else:
            tally["exact"] += 1
    with capsys.disabled():
        print(f"\nrecorded answers: {len(ROWS)}; runtimes here: {sorted(ctx.installed)}")
        for name, count in sorted(tally.items()):
            print(f"  {name}: {count}")
    top = ("exact", "differs on purpose", "operation not implemented", "implemented, no replay yet")
    assert sum(tally[name] for name in top) == len(ROWS)
    assert len(ROWS) == 884
