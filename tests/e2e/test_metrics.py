"""Metrics as users read them: boto3's and the AWS CLI's `cloudwatch`, Prometheus's text
format on /metrics, `ember metrics`; the numbers are what the test itself did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Server, aws_cli, create_function, create_key, run_server, wait_until

CODE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""
OK, FAILED, THROUGH_ALIAS, THROTTLED = 5, 2, 3, 2


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("metrics") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def did(srv: Server) -> dict[str, str]:
    """Invoke as the tests count: OK successes and FAILED errors unqualified, THROUGH_ALIAS
    through alias `live` (version 1), THROTTLED refusals of a function reserved at 0."""
    lam = srv.client()
    create_function(lam, "counted", CODE)
    for _ in range(OK):
        assert "FunctionError" not in lam.invoke(FunctionName="counted", Payload=b"{}")
    for _ in range(FAILED):
        answer = lam.invoke(FunctionName="counted", Payload=json.dumps({"fail": True}))
        assert answer["FunctionError"] == "Unhandled"
    version = lam.publish_version(FunctionName="counted")["Version"]
    lam.create_alias(FunctionName="counted", Name="live", FunctionVersion=version)
    for _ in range(THROUGH_ALIAS):
        lam.invoke(FunctionName="counted", Qualifier="live", Payload=b"{}")
    create_function(lam, "refused", CODE)
    lam.put_function_concurrency(FunctionName="refused", ReservedConcurrentExecutions=0)
    for _ in range(THROTTLED):
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName="refused", Payload=b"{}")
        assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    return {"version": version}


def _window() -> dict[str, Any]:
    now = time.time()
    return {"StartTime": now - 1800, "EndTime": now + 120, "Period": 3600}


def _sum(cw: Any, metric: str, stat: str = "Sum", **dims: str) -> float:
    answer = cw.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        Statistics=[stat],
        **_window(),
    )
    return float(sum(point[stat] for point in answer["Datapoints"]))


def test_get_metric_statistics_counts_what_the_test_did(srv: Server, did: dict[str, str]) -> None:
    cw = srv.client("cloudwatch")
    total = OK + FAILED + THROUGH_ALIAS
    assert _sum(cw, "Invocations", FunctionName="counted") == total
    assert _sum(cw, "Errors", FunctionName="counted") == FAILED
    assert _sum(cw, "Duration", "SampleCount", FunctionName="counted") == total
    assert _sum(cw, "Throttles", FunctionName="refused") == THROTTLED
    assert _sum(cw, "Invocations", FunctionName="refused") == 0
    assert _sum(cw, "Invocations", FunctionName="counted", Resource="counted:live") == (
        THROUGH_ALIAS
    )
    executed = {"FunctionName": "counted", "Resource": "counted:live"}
    assert _sum(cw, "Invocations", ExecutedVersion=did["version"], **executed) == THROUGH_ALIAS
    assert _sum(cw, "Invocations") >= total  # the account: every function together
    assert _sum(cw, "ConcurrentExecutions", "Maximum", FunctionName="counted") >= 1


def test_percentiles_and_units(srv: Server, did: dict[str, str]) -> None:
    cw = srv.client("cloudwatch")
    answer = cw.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": "counted"}],
        Statistics=["Minimum", "Maximum", "Average"],
        ExtendedStatistics=["p50", "p99"],
        **_window(),
    )
    (point,) = answer["Datapoints"]
    assert point["Unit"] == "Milliseconds"
    low, high = point["Minimum"], point["Maximum"]
    assert 0 < low <= point["ExtendedStatistics"]["p50"] <= point["ExtendedStatistics"]["p99"]
    assert point["ExtendedStatistics"]["p99"] <= high
    other_unit = cw.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": "counted"}],
        Statistics=["Sum"],
        Unit="Bytes",
        **_window(),
    )
    assert other_unit["Datapoints"] == []


def test_get_metric_data_and_list_metrics(srv: Server, did: dict[str, str]) -> None:
    cw = srv.client("cloudwatch")
    window = _window()
    metric = {
        "Namespace": "AWS/Lambda",
        "Dimensions": [{"Name": "FunctionName", "Value": "counted"}],
    }
    answer = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "calls", "MetricStat": {"Metric": {**metric, "MetricName": "Invocations"},
                                           "Period": 60, "Stat": "Sum"}},
            {"Id": "slow", "MetricStat": {"Metric": {**metric, "MetricName": "Duration"},
                                          "Period": 60, "Stat": "p99"}},
            {"Id": "hidden", "ReturnData": False,
             "MetricStat": {"Metric": {**metric, "MetricName": "Errors"},
                            "Period": 60, "Stat": "Sum"}},
        ],
        StartTime=window["StartTime"],
        EndTime=window["EndTime"],
        ScanBy="TimestampAscending",
    )  # fmt: skip
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert set(results) == {"calls", "slow"}
    assert sum(results["calls"]["Values"]) == OK + FAILED + THROUGH_ALIAS
    assert results["calls"]["StatusCode"] == "Complete"
    stamps = results["calls"]["Timestamps"]
    assert stamps == sorted(stamps)
    # One datapoint a page: the pages together are the whole answer.
    queries = [
        {"Id": f"q{n}", "MetricStat": {"Metric": {**metric, "MetricName": name},
                                       "Period": 60, "Stat": "Sum"}}
        for n, name in enumerate(("Invocations", "Errors"))
    ]  # fmt: skip
    span = {"StartTime": window["StartTime"], "EndTime": window["EndTime"]}
    whole = cw.get_metric_data(MetricDataQueries=queries, **span)["MetricDataResults"]
    pages: dict[str, list[float]] = {"q0": [], "q1": []}
    token: dict[str, str] = {}
    for _ in range(10):
        page = cw.get_metric_data(MetricDataQueries=queries, MaxDatapoints=1, **span, **token)
        assert sum(len(r["Values"]) for r in page["MetricDataResults"]) <= 1
        for result in page["MetricDataResults"]:
            pages[result["Id"]] += result["Values"]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert pages == {r["Id"]: r["Values"] for r in whole}
    assert all(value > 0 for value in results["slow"]["Values"])

    listed = cw.list_metrics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": "counted"}],
    )["Metrics"]
    dimension_sets = {
        tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed
    }
    assert dimension_sets == {
        (("FunctionName", "counted"),),
        (("FunctionName", "counted"), ("Resource", "counted:live")),
        (("ExecutedVersion", did["version"]), ("FunctionName", "counted"),
         ("Resource", "counted:live")),
    }  # fmt: skip
    throttled = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Throttles")["Metrics"]
    assert {"Name": "FunctionName", "Value": "refused"} in [
        d for m in throttled for d in m["Dimensions"]
    ]


def test_bad_requests_answer_in_cloudwatch_shape(srv: Server) -> None:
    cw = srv.client("cloudwatch")
    with pytest.raises(ClientError) as bad:
        cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", StartTime=time.time() - 600,
            EndTime=time.time(), Period=30, Statistics=["Sum"],
        )  # fmt: skip
    assert bad.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as too_many:
        cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", StartTime=time.time() - 2 * 86400,
            EndTime=time.time(), Period=60, Statistics=["Sum"],
        )  # fmt: skip
    assert too_many.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(cw.exceptions.MissingRequiredParameterException):
        cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", StartTime=time.time() - 600,
            EndTime=time.time(), Period=60,
        )  # fmt: skip


def test_aws_cli_get_metric_statistics(srv: Server, did: dict[str, str]) -> None:
    now = time.time()
    answer = aws_cli(
        srv.endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
        "--metric-name", "Errors", "--dimensions", "Name=FunctionName,Value=counted",
        "--start-time", str(int(now - 1800)), "--end-time", str(int(now + 120)),
        "--period", "3600", "--statistics", "Sum", "--output", "json",
    )  # fmt: skip
    points = json.loads(answer.stdout)["Datapoints"]
    assert sum(p["Sum"] for p in points) == FAILED


def test_provisioned_concurrency_and_spillover(srv: Server) -> None:
    lam = srv.client()
    create_function(lam, "warm", "import time\ndef handler(event, context):\n"
                    "    time.sleep(event.get('sleep', 0))\n    return 1\n")  # fmt: skip
    version = lam.publish_version(FunctionName="warm")["Version"]
    lam.create_alias(FunctionName="warm", Name="pc", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName="warm", Qualifier="pc", ProvisionedConcurrentExecutions=1
    )
    wait_until(
        lambda: (
            lam.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="pc")["Status"]
            == "READY"
        ),
        limit=30,
    )
    # Two at once: one runs on the provisioned environment, the other spills over.
    with ThreadPoolExecutor(2) as pool:
        calls = [
            pool.submit(lam.invoke, FunctionName="warm", Qualifier="pc", Payload=b'{"sleep": 1}')
            for _ in range(2)
        ]
        assert all("FunctionError" not in call.result() for call in calls)
    cw = srv.client("cloudwatch")
    resource = {"FunctionName": "warm", "Resource": "warm:pc"}
    assert _sum(cw, "ProvisionedConcurrencySpilloverInvocations", **resource) == 1
    assert _sum(cw, "ProvisionedConcurrentExecutions", "Maximum", **resource) == 1
    assert _sum(cw, "ProvisionedConcurrencyUtilization", "Maximum", **resource) == 1.0
    assert _sum(cw, "ConcurrentExecutions", "Maximum", **resource) == 2


def test_queue_depths_in_the_sqs_namespace(srv: Server) -> None:
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="depths")["QueueUrl"]
    for n in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    cw = srv.client("cloudwatch")

    def visible() -> float | None:
        answer = cw.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": "depths"}], Statistics=["Maximum"],
            **_window(),
        )  # fmt: skip
        return max((p["Maximum"] for p in answer["Datapoints"]), default=None)

    assert wait_until(visible, limit=30) == 2  # sampled at each write, every 10 s
    listed = cw.list_metrics(Namespace="AWS/SQS", RecentlyActive="PT3H")["Metrics"]
    assert {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "depths"}]} in listed  # fmt: skip
    with urllib.request.urlopen(f"{srv.endpoint}/metrics", timeout=10) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    states = {
        s.labels["state"]: s.value
        for s in families["ember_sqs_messages"].samples
        if s.labels["queue"] == "depths"
    }
    assert states == {"visible": 2, "in_flight": 0, "delayed": 0}


def test_prometheus_text_format(srv: Server, did: dict[str, str]) -> None:
    with urllib.request.urlopen(f"{srv.endpoint}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    def total(family: str, sample: str, function: str) -> float:
        return sum(
            s.value
            for s in families[family].samples
            if s.name == sample and s.labels["function"] == function
        )

    calls = OK + FAILED + THROUGH_ALIAS
    assert total("ember_lambda_invocations", "ember_lambda_invocations_total", "counted") == calls
    assert total("ember_lambda_errors", "ember_lambda_errors_total", "counted") == FAILED
    assert total("ember_lambda_throttles", "ember_lambda_throttles_total", "refused") == THROTTLED
    assert families["ember_lambda_duration_seconds"].type == "histogram"
    count = total("ember_lambda_duration_seconds", "ember_lambda_duration_seconds_count", "counted")
    assert count == calls
    aliased = [
        s
        for s in families["ember_lambda_invocations"].samples
        if s.labels["function"] == "counted" and s.labels["resource"] == "live"
    ]
    assert [(s.labels["version"], s.value) for s in aliased] == [(did["version"], THROUGH_ALIAS)]


def test_ember_metrics_command(srv: Server, did: dict[str, str]) -> None:
    def ember(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "ember", "--endpoint", srv.endpoint, "metrics", *args],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip

    one = ember("counted", "--since", "30m")
    assert f"Invocations {OK + FAILED + THROUGH_ALIAS}" in " ".join(one.split())
    assert f"Errors {FAILED}" in " ".join(one.split())
    assert "Duration count 10, avg" in " ".join(one.split())
    every = [line.split() for line in ember().splitlines()]
    assert ["refused", "0", "0", str(THROTTLED)] == next(r for r in every if r[0] == "refused")[:4]


def test_points_survive_a_restart_and_sigv4_guards_all_but_loopback_scrapes(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with run_server(data) as first:
        lam = first.client()
        create_function(lam, "kept", CODE)
        for _ in range(3):
            lam.invoke(FunctionName="kept", Payload=b"{}")
    assert (data / "metrics.db").exists()
    key = dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), create_key(data), strict=True))
    with run_server(data, "--auth", "sigv4") as second:
        signed = second.client(
            "cloudwatch", access_key=key["AWS_ACCESS_KEY_ID"],
            secret_key=key["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        assert _sum(signed, "Invocations", FunctionName="kept") == 3
        with pytest.raises(ClientError) as unknown_key:
            _sum(second.client("cloudwatch"), "Invocations", FunctionName="kept")
        assert unknown_key.value.response["Error"]["Code"] == "UnrecognizedClientException"
        shown = subprocess.run(
            [sys.executable, "-m", "ember", "--endpoint", second.endpoint, "metrics", "kept"],
            capture_output=True, text=True, check=True, timeout=60,
            env={**os.environ, **key},
        ).stdout  # fmt: skip
        assert "Invocations 3" in " ".join(shown.split())
        # A scraper on the host's loopback cannot sign: /metrics answers it unsigned.
        with urllib.request.urlopen(f"{second.endpoint}/metrics", timeout=10) as response:
            assert b"ember_lambda_invocations" in response.read()
