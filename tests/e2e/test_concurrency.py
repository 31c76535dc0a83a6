"""Concurrency end to end: the account limit, reserved and provisioned concurrency, the
scaling rate and idle reaping, watched from inside the environments (tests/e2e/probes.py)
rather than through Ember's own counters."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.apicalls import arn, deploy, expect_error, outcome_of, unique, wait_settled
from tests.e2e.harness import Server, aws_cli, raw_request, run_server, wait_until
from tests.e2e.probes import Probe, probe_handler, running_probe

pytestmark = pytest.mark.e2e

RATE_EXCEEDED = "Rate Exceeded."
QUALIFIED_REFUSED = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not "
    "support this operation. Please specify either a function name or an unqualified "
    "function ARN."
)
LIMIT = 50  # the main server's --concurrency-limit: the minimum unreserved is 50 // 10 = 5
MIN_UNRESERVED = 5


@pytest.fixture(scope="module")
def probe() -> Iterator[Probe]:
    with running_probe() as running:
        yield running


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, probe: Probe) -> Iterator[Server]:
    """A server with a 50 limit, for reservations, provisioning and the load test."""
    root = tmp_path_factory.mktemp("concurrency")
    limits = ("--concurrency-limit", str(LIMIT), "--idle-timeout", "60")
    with run_server(root / "data", *limits, *probe.access) as s:
        yield s


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, probe: Probe) -> Iterator[Server]:
    """A server with room for 4 at once, 3 new environments a function per 10 s, and
    environments reaped after 1.5 s idle."""
    root = tmp_path_factory.mktemp("small")
    with run_server(
        root / "data",
        "--concurrency-limit", "4", "--scale-limit", "3", "--idle-timeout", "1.5",
        *probe.access,
    ) as s:  # fmt: skip
        yield s


Cleanup = list[tuple[Any, str]]


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    """(client, function name) pairs deleted after the test, passed or not: a reservation
    or provisioned config left behind would change what the next test may reserve."""
    made: Cleanup = []
    yield made
    for lam, name in made:
        with contextlib.suppress(ClientError):  # already deleted by the test
            lam.delete_function(FunctionName=name)


def fresh(
    lam: Any, prefix: str, cleanup: Cleanup, files: dict[str, str | bytes] | None = None
) -> str:
    name = unique(prefix)
    cleanup.append((lam, name))
    deploy(lam, name, files)
    return name


def probed(lam: Any, probe: Probe, prefix: str, cleanup: Cleanup, **kw: Any) -> str:
    """A new function whose environments report to the probe."""
    name = unique(prefix)
    cleanup.append((lam, name))
    deploy(lam, name, probe_handler(prefix), Environment=probe.environment, **kw)
    return name


def no_retries(server: Server) -> Any:
    """A Lambda client that never retries: Server.client() allows botocore one retry
    (`max_attempts: 1` is one *retry* in its standard mode), which it spends, after a
    back-off, on every 429."""
    return boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def invoke_raw(
    server: Server, name: str, payload: dict[str, Any], qualifier: str | None = None
) -> tuple[int, Any]:
    """(HTTP status, JSON body) of one synchronous invoke, as plain HTTP: no retries."""
    query = f"?Qualifier={qualifier}" if qualifier else ""
    status, _, body = raw_request(
        server.endpoint,
        "POST",
        f"/2015-03-31/functions/{name}/invocations{query}",
        orjson.dumps(payload),
    )
    return status, orjson.loads(body) if body else None


def invoke_together(
    server: Server, calls: list[tuple[str, dict[str, Any], str | None]], deadline: float = 60
) -> list[tuple[int, Any]]:
    """Fire every (name, payload, qualifier) at the same moment, one thread and connection
    each; every one must be answered within `deadline` seconds."""
    results: list[tuple[int, Any] | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def call(i: int) -> None:
        start.wait()
        name, payload, qualifier = calls[i]
        results[i] = invoke_raw(server, name, payload, qualifier)

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + deadline
    for thread in threads:
        thread.join(timeout=max(0.0, ends - time.monotonic()))
    hung = [i for i, r in enumerate(results) if r is None]
    assert not hung, f"{len(hung)} invocations got no answer within {deadline}s"
    return [r for r in results if r is not None]


def throttled(result: tuple[int, Any], reason: str) -> bool:
    status, body = result
    return status == 429 and body == {"Type": "User", "message": RATE_EXCEEDED, "Reason": reason}


def provisioned_ready(lam: Any, name: str, qualifier: str, limit: float = 30) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        config: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        assert config["Status"] != "FAILED", config
        return config if config["Status"] == "READY" else None

    config: dict[str, Any] = wait_until(ready, limit=limit)
    return config


def unreserved(lam: Any) -> int:
    return int(lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"])


# -- account settings and reserved concurrency -----------------------------------------------


def test_account_settings_follow_the_limit_and_reservations(big: Server, cleanup: Cleanup) -> None:
    lam = big.client()
    limit = lam.get_account_settings()["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (
        LIMIT,
        LIMIT,
    )
    name = fresh(lam, "reserving", cleanup)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=10)
    cli = json.loads(aws_cli(big.endpoint, "lambda", "get-account-settings").stdout)
    assert cli["AccountLimit"]["UnreservedConcurrentExecutions"] == LIMIT - 10
    lam.delete_function_concurrency(FunctionName=name)
    assert unreserved(lam) == LIMIT
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    lam.delete_function(FunctionName=name)  # a deleted function's reservation goes with it
    assert unreserved(lam) == LIMIT


def test_reserved_concurrency_put_get_delete_and_refusals(big: Server, cleanup: Cleanup) -> None:
    lam = big.client()
    name = fresh(lam, "reserved", cleanup)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    assert put["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 3}

    lam.publish_version(FunctionName=name)
    for qualified in (f"{name}:1", f"{arn(name)}:$LATEST", f"{arn(name)}:1"):
        expect_error(
            lambda q=qualified: lam.put_function_concurrency(  # type: ignore[misc]
                FunctionName=q, ReservedConcurrentExecutions=1
            ),
            "InvalidParameterValueException",
            400,
            QUALIFIED_REFUSED,
        )
    missing = unique("missing")
    expect_error(
        lambda: lam.put_function_concurrency(FunctionName=missing, ReservedConcurrentExecutions=0),
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn(missing)}:$LATEST",
    )
    # 50 at most, of which 5 must stay unreserved: 46 is one too many, 45 fits.
    expect_error(
        lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=46),
        "InvalidParameterValueException",
        400,
        "Specified ReservedConcurrentExecutions for function decreases account's "
        f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].",
    )
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=45)
    assert unreserved(lam) == MIN_UNRESERVED

    assert (
        lam.delete_function_concurrency(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)


def test_reserved_zero_throttles_every_invocation(big: Server, cleanup: Cleanup) -> None:
    lam = big.client()
    name = fresh(lam, "blocked", cleanup)
    lam.publish_version(FunctionName=name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    strict = no_retries(big)
    for qualifier in (None, "1", "$LATEST"):
        got = outcome_of(
            lambda q=qualifier: strict.invoke(  # type: ignore[misc]
                FunctionName=name, **({} if q is None else {"Qualifier": q})
            )
        )
        assert (got.code, got.status, got.message) == (
            "TooManyRequestsException",
            429,
            RATE_EXCEEDED,
        )
        assert got.fields["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName=name)
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200


def test_reserved_concurrency_is_exact_under_load(
    big: Server, probe: Probe, cleanup: Cleanup
) -> None:
    """Several hundred invocations at once against a reservation of N: counted from inside
    the functions, never more than N run at a moment, N do (it saturates), and every
    invocation is answered, with a result or a 429."""
    lam = big.client()
    reserved, invocations = 5, 300
    name = probed(lam, probe, "load", cleanup, Timeout=30)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)

    # Each run holds its slot 3 s: long enough that the N overlap however their cold starts
    # spread (two may come pre-started in milliseconds, the rest start fresh on a busy host).
    results = invoke_together(
        big, [(name, {"count": True, "sleep": 3.0}, None)] * invocations, deadline=90
    )

    ran = [body for status, body in results if status == 200]
    refused = [r for r in results if r[0] != 200]
    assert all(
        throttled(r, "ReservedFunctionConcurrentInvocationLimitExceeded") for r in refused
    ), {r[0] for r in refused}
    assert all(body["tag"] == "load" for body in ran)
    assert len(ran) + len(refused) == invocations
    assert refused, "300 invocations of 3 s against 5 slots: some must be throttled"
    assert probe.peak(name) <= reserved
    assert probe.peak(name) == reserved
    # Every 200 is one run of the handler, and nothing ran that was refused.
    assert probe.entered(name) == len(ran)
    assert len(probe.envs(name)) <= reserved
    lam.delete_function(FunctionName=name)


# -- provisioned concurrency ----------------------------------------------------------------


def test_provisioned_concurrency_on_a_version_and_an_alias(
    big: Server, probe: Probe, cleanup: Cleanup
) -> None:
    lam = big.client()
    name = probed(lam, probe, "provisioned", cleanup)
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Description="two")
    wait_settled(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert probe.envs(name) == set()  # nothing has run yet

    put = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["Status"], put["RequestedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 2)
    ready = provisioned_ready(lam, name, "1")
    assert (
        ready["AllocatedProvisionedConcurrentExecutions"],
        ready["AvailableProvisionedConcurrentExecutions"],
    ) == (2, 2)
    # Initialised ahead of any invocation, and they say so.
    v1_envs = wait_until(
        lambda: (
            probe.envs(name, version="1", init_type="provisioned-concurrency", alive=True)
            if len(probe.envs(name, version="1", alive=True)) == 2
            else None
        )
    )
    assert probe.envs(name) == v1_envs

    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    provisioned_ready(lam, name, "live")
    wait_until(lambda: len(probe.envs(name, version="2", init_type="provisioned-concurrency")) == 1)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert sorted(
        (c["FunctionArn"], c["RequestedProvisionedConcurrentExecutions"], c["Status"])
        for c in listed["ProvisionedConcurrencyConfigs"]
    ) == [(f"{arn(name)}:1", 2, "READY"), (f"{arn(name)}:live", 1, "READY")]
    assert unreserved(lam) == LIMIT - 3

    # Provisioned environments take invocations first; $LATEST runs on demand.
    for qualifier, version in (("1", "1"), ("live", "2"), ("2", "2")):
        status, body = invoke_raw(big, name, {}, qualifier)
        assert (status, body["init"], body["version"]) == (200, "provisioned-concurrency", version)
        assert body["env"] in probe.envs(name, version=version, init_type="provisioned-concurrency")
    status, body = invoke_raw(big, name, {})
    assert (status, body["init"], body["version"]) == (200, "on-demand", "$LATEST")
    # Beyond the provisioned environments, invocations spill over to on-demand ones.
    results = invoke_together(big, [(name, {"sleep": 0.5}, "1")] * 4)
    assert sorted(body["init"] for _, body in results) == [
        "on-demand", "on-demand", "provisioned-concurrency", "provisioned-concurrency",
    ]  # fmt: skip
    assert {body["env"] for _, body in results if body["init"] != "on-demand"} == v1_envs

    # Deleting a config shuts its environments down; deleting an alias deletes its config.
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    wait_until(lambda: not any(probe.alive(e) for e in v1_envs))
    expect_error(
        lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1"),
        "ProvisionedConcurrencyConfigNotFoundException",
        404,
        "No Provisioned Concurrency Config found for this function",
    )
    alias_envs = probe.envs(name, version="2", init_type="provisioned-concurrency")
    lam.delete_alias(FunctionName=name, Name="live")
    assert (
        lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
        == []
    )
    wait_until(lambda: not any(probe.alive(e) for e in alias_envs))
    assert unreserved(lam) == LIMIT


def test_provisioned_concurrency_refusals(big: Server, probe: Probe, cleanup: Cleanup) -> None:
    lam = big.client()
    name = probed(lam, probe, "refusals", cleanup)
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Description="two")
    wait_settled(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="one", FunctionVersion="1")
    lam.create_alias(FunctionName=name, Name="two", FunctionVersion="2")

    def put(qualifier: str, count: int) -> Any:
        return lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=count
        )

    expect_error(
        lambda: put("$LATEST", 1),
        "InvalidParameterValueException",
        400,
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )
    expect_error(
        lambda: put("10", 1),
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn(name)}:10",
    )
    expect_error(
        lambda: put("nope", 1),
        "ResourceNotFoundException",
        404,
        f"Cannot find alias arn: {arn(name)}:nope",
    )
    put("1", 1)
    expect_error(
        lambda: put("one", 1),
        "ResourceConflictException",
        409,
        "Alias can't be used for Provisioned Concurrency configuration on an already "
        "Provisioned version",
    )
    put("two", 1)
    expect_error(
        lambda: put("2", 1),
        "ResourceConflictException",
        409,
        "Version is pointed by a Provisioned Concurrency alias",
    )
    # With a reservation, provisioned concurrency must fit inside it (both ways round).
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    expect_error(
        lambda: put("1", 2),
        "InvalidParameterValueException",
        400,
        "Requested Provisioned Concurrency should not be greater than the "
        "reservedConcurrentExecution for function",
    )
    expect_error(
        lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1),
        "InvalidParameterValueException",
        400,
        " ReservedConcurrentExecutions  1 should not be lower than function's total "
        "provisioned concurrency [2].",
    )
    # Reserved == provisioned: nothing is left for on-demand environments, $LATEST included.
    provisioned_ready(lam, name, "1")
    got = outcome_of(lambda: no_retries(big).invoke(FunctionName=name))
    assert (got.code, got.message, got.fields["Reason"]) == (
        "TooManyRequestsException",
        RATE_EXCEEDED,
        "ReservedFunctionConcurrentInvocationLimitExceeded",
    )
    assert invoke_raw(big, name, {}, "1")[1]["init"] == "provisioned-concurrency"
    lam.delete_function_concurrency(FunctionName=name)
    # Without one, the account's unreserved concurrency bounds it: 50 - 2 held elsewhere
    # (both configs) + 1 (this config's own) = 49 available; keeping 5 leaves 44.
    expect_error(
        lambda: put("1", 50),
        "InvalidParameterValueException",
        400,
        "Specified ConcurrentExecutions for function is greater than account's unreserved "
        "concurrency [49].",
    )
    expect_error(
        lambda: put("1", 45),
        "InvalidParameterValueException",
        400,
        "Specified ConcurrentExecutions for function decreases account's "
        f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].",
    )
    assert (
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")[
            "RequestedProvisionedConcurrentExecutions"
        ]
        == 1
    )
    lam.delete_function(FunctionName=name)
    assert unreserved(lam) == LIMIT


def test_provisioned_concurrency_fails_when_init_fails(big: Server, cleanup: Cleanup) -> None:
    lam = big.client()
    name = fresh(lam, "init-fails", cleanup, {"app.py": "raise RuntimeError('no init')\n"})
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    config = wait_until(
        lambda: (
            c
            if (c := lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1"))[
                "Status"
            ]
            != "IN_PROGRESS"
            else None
        ),
        limit=30,
    )
    assert config["Status"] == "FAILED"
    assert config["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"  # AWS's code, alone
    assert config["AvailableProvisionedConcurrentExecutions"] == 0


def test_provisioned_and_reserved_concurrency_survive_a_restart(
    fresh_dir: Path, probe: Probe
) -> None:
    with run_server(fresh_dir, *probe.access) as server:
        lam = server.client()
        name = probed(lam, probe, "restarted", [])  # the server goes, and its functions
        lam.publish_version(FunctionName=name)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
        )
        provisioned_ready(lam, name, "1")
        before = probe.envs(name, init_type="provisioned-concurrency", alive=True)
        assert len(before) == 2
    # The server stopped: its environments went with it.
    wait_until(lambda: not probe.envs(name, alive=True))
    with run_server(fresh_dir, *probe.access) as server:
        lam = server.client()
        assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
        ready = provisioned_ready(lam, name, "1")
        assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
        after = wait_until(
            lambda: (
                found
                if len(found := probe.envs(name, init_type="provisioned-concurrency", alive=True))
                == 2
                else None
            )
        )
        assert not after & before  # initialised anew, ahead of any invocation
        assert invoke_raw(server, name, {}, "1")[1]["env"] in after


def test_deleting_a_version_deletes_its_provisioned_config(fresh_dir: Path, probe: Probe) -> None:
    """As in AWS, a version's provisioned concurrency config goes with the version: no
    longer listed, counted against the account, running, or kept across a restart."""
    limits = ("--concurrency-limit", str(LIMIT))
    with run_server(fresh_dir, *limits, *probe.access) as server:
        lam = server.client()
        name = probed(lam, probe, "version-gone", [])  # the server goes, and its functions
        lam.publish_version(FunctionName=name)
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
        )
        provisioned_ready(lam, name, "1")
        envs = wait_until(
            lambda: found if len(found := probe.envs(name, version="1", alive=True)) == 2 else None
        )
        assert unreserved(lam) == LIMIT - 2

        lam.delete_function(FunctionName=name, Qualifier="1")
        listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
        assert listed["ProvisionedConcurrencyConfigs"] == []
        assert unreserved(lam) == LIMIT
        wait_until(lambda: not any(probe.alive(env) for env in envs))
    wait_until(lambda: not probe.envs(name, alive=True))
    with run_server(fresh_dir, *limits, *probe.access) as server:
        lam = server.client()
        listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
        assert listed["ProvisionedConcurrencyConfigs"] == []
        assert unreserved(lam) == LIMIT


# -- the account limit, the scaling rate and idle reaping (the small server) ---------------


def test_the_account_limit_throttles_functions_without_reservations(
    small: Server, probe: Probe, cleanup: Cleanup
) -> None:
    lam = small.client()
    names = [probed(lam, probe, f"account-{i}", cleanup) for i in range(2)]
    # Six at once over two functions, against a limit of four.
    results = invoke_together(small, [(n, {"sleep": 1.0}, None) for n in names for _ in range(3)])
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    assert len(ok) == 4, results
    assert len(refused) == 2, results
    assert all(throttled(r, "ConcurrentInvocationLimitExceeded") for r in refused), refused


def test_the_scaling_rate_throttles_new_environments_not_warm_ones(
    small: Server, probe: Probe, cleanup: Cleanup
) -> None:
    lam = small.client()
    name = probed(lam, probe, "scaling", cleanup)
    # Four at once: three new environments are allowed per 10 s, the fourth is throttled.
    results = invoke_together(small, [(name, {"sleep": 0.5}, None)] * 4)
    assert sorted(status for status, _ in results) == [200, 200, 200, 429]
    assert [
        r for r in results if r[0] == 429 and throttled(r, "FunctionInvocationRateLimitExceeded")
    ]
    warm = {body["env"] for status, body in results if status == 200}
    # The same three, warm, take three more at once without a throttle.
    again = invoke_together(small, [(name, {"sleep": 0.2}, None)] * 3)
    assert [status for status, _ in again] == [200, 200, 200]
    assert {body["env"] for _, body in again} == warm


def test_idle_reaping_keeps_the_most_recently_used_environment(
    small: Server, probe: Probe, cleanup: Cleanup
) -> None:
    lam = small.client()
    name = probed(lam, probe, "reaping", cleanup)
    first = invoke_together(small, [(name, {"sleep": 0.3}, None)] * 2)
    pair = {body["env"] for _, body in first}
    assert len(pair) == 2
    # Invoked one at a time, more often than the idle timeout (each call works 0.2 s; the
    # test itself never sleeps): the most recently used environment is reused every time,
    # so the other one ages out and is shut down.
    used: set[str] = set()
    deadline = time.monotonic() + 15
    while True:
        status, body = invoke_raw(small, name, {"sleep": 0.2})
        assert status == 200
        used.add(body["env"])
        if len(pair - used) == 1 and not probe.alive(next(iter(pair - used))):
            break  # the other one was reaped
        assert time.monotonic() < deadline, "the unused environment was never reaped"
    assert len(used) == 1, used
    assert used <= pair, used
    (kept,) = used
    assert probe.alive(kept)
    # Left alone, the kept one goes too.
    wait_until(lambda: not probe.alive(kept), limit=5)


def test_provisioned_environments_are_never_reaped(
    small: Server, probe: Probe, cleanup: Cleanup
) -> None:
    lam = small.client()
    name = probed(lam, probe, "never-reaped", cleanup)
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    provisioned_ready(lam, name, "1")
    provisioned = wait_until(
        lambda: (
            found
            if len(found := probe.envs(name, init_type="provisioned-concurrency")) == 2
            else None
        )
    )
    status, body = invoke_raw(small, name, {})  # $LATEST: an on-demand environment
    assert (status, body["init"]) == (200, "on-demand")
    # Well past the 1.5 s idle timeout: the on-demand environment was reaped, the
    # provisioned ones (one of them used meanwhile) were not.
    assert invoke_raw(small, name, {}, "1")[1]["env"] in provisioned
    wait_until(lambda: not probe.alive(body["env"]), limit=5)
    # Another idle timeout's worth (spent in a call's work, not a sleep of the test), to
    # show nothing more goes.
    assert invoke_raw(small, name, {"sleep": 1.5})[0] == 200
    assert all(probe.alive(env) for env in provisioned)

    # Deleting the config while one of them is busy: the idle one goes at once, the busy
    # one as soon as its invocation is done (and the invocation completes).
    answers: list[tuple[int, Any]] = []
    busy = threading.Thread(
        target=lambda: answers.append(invoke_raw(small, name, {"count": True, "sleep": 1}, "1"))
    )
    busy.start()
    wait_until(lambda: probe.entered(name) == 1)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    wait_until(lambda: len([env for env in provisioned if probe.alive(env)]) == 1)
    busy.join(timeout=10)
    assert answers[0][0] == 200
    assert answers[0][1]["init"] == "provisioned-concurrency"
    wait_until(lambda: not any(probe.alive(env) for env in provisioned))
    assert invoke_raw(small, name, {}, "1")[1]["init"] == "on-demand"
