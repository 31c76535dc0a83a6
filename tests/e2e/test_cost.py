"""`ember cost` and /_ember/cost: the test's own invocations priced as Lambda bills them
(requests, billed milliseconds x memory by architecture, ephemeral storage, provisioned
concurrency), the free tier apart; the server is real, the numbers come from its REPORT
lines."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, create_function, create_key, run_server, wait_until

CODE = """
def handler(event, context):
    return {"n": event.get("n")}
"""
X86_CALLS, ARM_CALLS = 4, 3
REQUEST = 0.20 / 1_000_000
X86_GBS, ARM_GBS, STORAGE_GBS, ARM_PC_GBS = 0.0000166667, 0.0000133334, 0.0000000309, 0.0000033334
_REPORT = re.compile(r"Billed Duration: (\d+) ms.*?(?:Init Duration: ([\d.]+) ms)?\s*$")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("cost") / "data") as server:
        yield server


def billed_bounds(tail: str) -> tuple[int, int]:
    """The invocation's billed ms as Lambda counts it (its duration and, on a cold start, its
    Init, rounded up together): between the REPORT's Billed Duration without and with Init."""
    line = next(x for x in tail.splitlines() if x.startswith("REPORT"))
    found = _REPORT.search(line)
    assert found, line
    billed = int(found.group(1))
    init = math.ceil(float(found.group(2))) if found.group(2) else 0
    return max(1, billed - 1), billed + init


@pytest.fixture(scope="module")
def did(srv: Server) -> dict[str, tuple[int, int]]:
    """Invoke `x86` (256 MB, 1 GB of /tmp) X86_CALLS times and `arm` (512 MB, arm64)
    ARM_CALLS times; each one's billed-ms bounds summed."""
    lam = srv.client()
    create_function(lam, "x86", CODE, MemorySize=256, EphemeralStorage={"Size": 1024})
    create_function(lam, "arm", CODE, MemorySize=512, Architectures=["arm64"])
    bounds = {}
    for name, calls in (("x86", X86_CALLS), ("arm", ARM_CALLS)):
        low = high = 0
        for n in range(calls):
            answer = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}), LogType="Tail")
            tail = base64.b64decode(answer["LogResult"]).decode()
            a, b = billed_bounds(tail)
            low, high = low + a, high + b
        bounds[name] = (low, high)
    return bounds


def cost(srv: Server, **query: str) -> dict[str, Any]:
    url = f"{srv.endpoint}/_ember/cost?" + "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(url, timeout=30) as answer:
        doc: dict[str, Any] = json.loads(answer.read())
    return doc


def lines_of(doc: dict[str, Any], function: str) -> dict[str, dict[str, Any]]:
    found = next(f for f in doc["Functions"] if f["FunctionName"] == function)
    return {line["Item"].split()[0]: line for line in found["Lines"]}


def test_requests_and_gb_seconds_are_what_the_test_ran(
    srv: Server, did: dict[str, tuple[int, int]]
) -> None:
    doc = cost(srv, since="1h")
    assert doc["Prices"]["Region"] == "us-east-1"
    assert doc["Requests"] == X86_CALLS + ARM_CALLS
    x86 = lines_of(doc, "x86")
    assert x86["Requests"]["Quantity"] == X86_CALLS
    assert x86["Requests"]["Cost"] == pytest.approx(X86_CALLS * REQUEST)
    low, high = did["x86"]
    gbs = x86["Duration"]["Quantity"]
    assert low * 256 / 1024 / 1000 <= gbs <= high * 256 / 1024 / 1000
    assert x86["Duration"]["Cost"] == pytest.approx(gbs * X86_GBS)
    assert "x86_64 256 MB" in x86["Duration"]["Item"]
    # 1024 MB of /tmp: 512 MB beyond the free 512, for the same billed time.
    storage = x86["Ephemeral"]
    assert storage["Quantity"] == pytest.approx(gbs * 512 / 256)
    assert storage["Cost"] == pytest.approx(storage["Quantity"] * STORAGE_GBS)
    arm = lines_of(doc, "arm")
    low, high = did["arm"]
    assert low * 512 / 1024 / 1000 <= arm["Duration"]["Quantity"] <= high * 512 / 1024 / 1000
    assert arm["Duration"]["Cost"] == pytest.approx(arm["Duration"]["Quantity"] * ARM_GBS)
    assert "Ephemeral" not in arm
    # Requests and duration fit in the free tier, shown apart; ephemeral storage is not in it.
    assert doc["Total"] == pytest.approx(sum(f["Cost"] for f in doc["Functions"]))
    assert doc["FreeTier"]["Requests"] == X86_CALLS + ARM_CALLS
    assert doc["FreeTier"]["Credit"] == pytest.approx(doc["Total"] - storage["Cost"])
    assert doc["TotalAfterFreeTier"] == pytest.approx(storage["Cost"])


def test_one_function_and_unknown_names(srv: Server, did: dict[str, tuple[int, int]]) -> None:
    doc = cost(srv, function="arm", since="month")
    assert [f["FunctionName"] for f in doc["Functions"]] == ["arm"]
    assert doc["Requests"] == ARM_CALLS
    with pytest.raises(urllib.error.HTTPError) as missing:
        cost(srv, function="nope")
    assert missing.value.code == 404
    assert missing.value.headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
    missing.value.close()
    with pytest.raises(urllib.error.HTTPError) as bad:
        cost(srv, since="yesterday-ish")
    assert bad.value.code == 400
    bad.value.close()


def test_ember_cost_prints_the_report(srv: Server, did: dict[str, tuple[int, int]]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ember", "--endpoint", srv.endpoint, "cost", "x86", "--since", "2h"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "x86_64 256 MB" in run.stdout
    assert f"{X86_CALLS} requests" in run.stdout
    assert "Free tier (apart)" in run.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "ember", "--endpoint", srv.endpoint, "cost", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(as_json.stdout)["Requests"] == X86_CALLS + ARM_CALLS


def test_provisioned_concurrency_is_priced_by_the_time_it_is_kept(
    srv: Server, did: dict[str, tuple[int, int]]
) -> None:
    lam = srv.client()
    version = lam.publish_version(FunctionName="arm")["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName="arm", Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    try:
        wait_until(
            lambda: (
                lam.get_provisioned_concurrency_config(FunctionName="arm", Qualifier=version)[
                    "Status"
                ]
                == "READY"
            ),
            limit=60,
        )
        first = lines_of(cost(srv, function="arm"), "arm").get("Provisioned")
        line = wait_until(lambda: lines_of(cost(srv, function="arm"), "arm").get("Provisioned"))
        assert f"arm64 512 MB ({version})" in line["Item"]
        assert line["Quantity"] > 0
        assert line["Cost"] == pytest.approx(line["Quantity"] * ARM_PC_GBS)
        # It grows while the environment is kept (the report counts up to the moment asked).
        wait_until(
            lambda: (
                lines_of(cost(srv, function="arm"), "arm")["Provisioned"]["Quantity"]
                > (first or line)["Quantity"]
            )
        )
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName="arm", Qualifier=version)


def test_snapstart_versions_pay_for_cache_and_restores(srv: Server) -> None:
    lam = srv.client()
    create_function(
        lam, "snappy", CODE, runtime="python3.12", MemorySize=1024,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    version = lam.publish_version(FunctionName="snappy")["Version"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName="snappy", Qualifier=version, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    answer = lam.invoke(FunctionName="snappy", Qualifier=version, LogType="Tail")
    assert "Restore Duration" in base64.b64decode(answer["LogResult"]).decode()
    lines = lines_of(cost(srv, function="snappy"), "snappy")
    found = cost(srv, function="snappy")["Functions"][0]["Lines"]
    cache = next(x for x in found if x["Item"].startswith("SnapStart cache"))
    restore = next(x for x in found if x["Item"].startswith("SnapStart restore"))
    # Cached at least 3 hours at 1 GB; one restore of 1 GB.
    assert cache["Quantity"] >= 10800
    assert cache["Cost"] == pytest.approx(cache["Quantity"] * 0.0000015046)
    assert f"(version {version})" in restore["Item"]
    assert restore["Quantity"] == pytest.approx(1.0)
    assert restore["Unit"] == "GB"
    assert restore["Cost"] == pytest.approx(0.0001397998)
    assert lines["Requests"]["Quantity"] == 1


def test_usage_survives_a_restart_and_sigv4_wants_ember_cost_signed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data) as first:
        lam = first.client()
        create_function(lam, "kept", CODE)
        for _ in range(2):
            lam.invoke(FunctionName="kept", Payload=b"{}")
    key = dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), create_key(data), strict=True))
    with run_server(data, "--auth", "sigv4") as second:
        shown = subprocess.run(
            [sys.executable, "-m", "ember", "--endpoint", second.endpoint, "cost", "--json"],
            capture_output=True, text=True, check=True, timeout=60, env={**os.environ, **key},
        ).stdout  # fmt: skip
        assert json.loads(shown)["Requests"] == 2
        refused = subprocess.run(
            [sys.executable, "-m", "ember", "--endpoint", second.endpoint, "cost"],
            capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )  # fmt: skip
        assert refused.returncode == 1
        assert refused.stderr.startswith("ember: ")
