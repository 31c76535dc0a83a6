"""One-minute metrics: histograms and percentiles, dimension sets, batching, retention."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ember.clock import ManualClock
from ember.telemetry.metrics import Metrics
from ember.telemetry.metrics_catalog import LAMBDA, dimension_sets, pattern, qualifier_of
from ember.telemetry.metrics_query import MetricsQueryError, check_statistic, periods, statistic
from ember.telemetry.metrics_stat import Stat
from ember.telemetry.metrics_store import MetricsStore

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
START = 1_700_000_040.0  # a minute's start


def test_percentiles_are_within_one_percent_and_exact_at_the_ends() -> None:
    stat = Stat(histogram=True)
    for value in range(1, 1001):
        stat.add(float(value))
    assert stat.count == 1000
    assert stat.total == 500500
    assert stat.percentile(50) == pytest.approx(500, rel=0.01)
    assert stat.percentile(99) == pytest.approx(990, rel=0.01)
    assert stat.percentile(0.0001) == 1.0
    assert stat.percentile(100) == 1000.0
    single = Stat(histogram=True)
    single.add(7.25)
    assert single.percentile(99) == 7.25


def test_stats_merge_and_survive_storage() -> None:
    a, b = Stat(histogram=True), Stat(histogram=True)
    for v in (1.0, 2.0, 3.0):
        a.add(v)
    b.add(100.0)
    a.merge(b)
    assert (a.count, a.total, a.minimum, a.maximum) == (4, 106.0, 1.0, 100.0)
    back = Stat.stored(a.count, a.total, a.minimum, a.maximum, a.histogram_blob())
    assert back.percentile(99) == a.percentile(99) == 100.0
    assert Stat().histogram_blob() is None


def test_dimension_sets_as_lambda_publishes_them() -> None:
    assert qualifier_of(ARN) == ""
    assert qualifier_of(ARN + ":live") == "live"
    alias = (LAMBDA, "Invocations", "fn", "live", "3")
    assert dimension_sets(alias) == [
        {},
        {"FunctionName": "fn"},
        {"FunctionName": "fn", "Resource": "fn:live"},
        {"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": "3"},
    ]
    version = (LAMBDA, "Invocations", "fn", "3", "3")
    assert {"ExecutedVersion": "3"} not in [
        {k: v for k, v in d.items() if k == "ExecutedVersion"} for d in dimension_sets(version)
    ]
    gauge = (LAMBDA, "ConcurrentExecutions", "fn", "", "")
    assert dimension_sets(gauge) == [{"FunctionName": "fn"}]


def test_patterns_roll_additive_metrics_up_and_match_gauges_exactly() -> None:
    assert pattern(LAMBDA, "Invocations", {}) == (LAMBDA, "Invocations", None, None, None)
    assert pattern(LAMBDA, "Errors", {"FunctionName": "fn", "Resource": "fn:live"}) == (
        LAMBDA, "Errors", "fn", "live", None,
    )  # fmt: skip
    assert pattern(LAMBDA, "ConcurrentExecutions", {"FunctionName": "fn"}) == (
        LAMBDA, "ConcurrentExecutions", "fn", "", "",
    )  # fmt: skip
    assert pattern(LAMBDA, "Invocations", {"Resource": "fn:live"}) is None
    assert pattern(LAMBDA, "Invocations", {"FunctionName": "fn", "Resource": "other:1"}) is None
    version_dims = {"FunctionName": "fn", "Resource": "fn:3", "ExecutedVersion": "3"}
    assert pattern(LAMBDA, "Invocations", version_dims) is None  # aliases only
    assert pattern("AWS/SQS", "Invocations", {}) is None


def test_statistics_and_periods() -> None:
    points = {}
    for minute in range(5):
        stat = Stat()
        stat.add(float(minute))
        points[int(START) + 60 * minute] = stat
    grouped = periods(points, int(START), 120)
    assert sorted(grouped) == [int(START), int(START) + 120, int(START) + 240]
    assert [statistic(grouped[t], "Sum") for t in sorted(grouped)] == [1.0, 5.0, 4.0]
    assert statistic(grouped[int(START)], "SampleCount") == 2.0
    check_statistic("p99.9")
    with pytest.raises(MetricsQueryError):
        check_statistic("tm99")


def test_invocations_are_counted_per_minute_and_written_in_batches(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock(START)
        metrics = Metrics(clock, MetricsStore(tmp_path / "metrics.db"))
        through_alias = metrics.series("fn", "3", ARN + ":live")
        for error in (False, False, True):
            through_alias.begin(provisioned=False, unreserved=True, allocated=0)
            through_alias.end(provisioned=False, unreserved=True)
            through_alias.completed(error, 10.0)
        clock.advance(60)
        plain = metrics.series("fn", "$LATEST", ARN)
        plain.completed(False, 20.0)
        plain.throttled()
        await metrics.flush()
        end = START + 180
        calls = await metrics.points(LAMBDA, "Invocations", {"FunctionName": "fn"}, START, end)
        assert {t: s.total for t, s in calls.items()} == {START: 3.0, START + 60: 1.0}
        live = {"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": "3"}
        errors = await metrics.points(LAMBDA, "Errors", live, START, end)
        assert [s.total for s in errors.values()] == [1.0]
        throttles = await metrics.points(LAMBDA, "Throttles", {}, START, end)
        assert [s.total for s in throttles.values()] == [1.0]
        # Not yet written points are read too, merged with the written ones.
        plain.completed(False, 30.0)
        calls = await metrics.points(LAMBDA, "Invocations", {"FunctionName": "fn"}, START, end)
        assert calls[int(START) + 60].total == 2.0
        assert (LAMBDA, "Invocations", "fn", "live", "3") in await metrics.known_series()
        assert metrics.totals()[(LAMBDA, "Invocations", "fn", "", "$LATEST")].total == 2.0
        await metrics.close()

    asyncio.run(scenario())


def test_a_deleted_functions_totals_go_even_with_points_not_yet_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        metrics = Metrics(ManualClock(START), MetricsStore(tmp_path / "metrics.db"))
        series = metrics.series("fn", "$LATEST", ARN)
        series.completed(False, 10.0)
        series.billed(128, 512, 10.0, None)
        metrics.forget("fn")  # deleted before the next write
        await metrics.flush()
        assert [key for key in metrics.totals() if "fn" in key] == []
        # The points themselves stay (as CloudWatch keeps a deleted function's metrics).
        calls = await metrics.points(
            LAMBDA, "Invocations", {"FunctionName": "fn"}, START, START + 60
        )
        assert [s.total for s in calls.values()] == [1.0]
        await metrics.close()

    asyncio.run(scenario())


def test_points_older_than_the_retention_go(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock(START)
        metrics = Metrics(clock, MetricsStore(tmp_path / "metrics.db"), retention=3600)
        metrics.series("fn", "$LATEST", ARN).completed(False, 1.0)
        await metrics.flush()
        clock.advance(7200)
        metrics.series("fn", "$LATEST", ARN).completed(False, 1.0)
        await metrics.flush()
        points = await metrics.points(LAMBDA, "Invocations", {}, START - 60, START + 7300)
        assert list(points) == [int(START) + 7200]
        await metrics.close()

    asyncio.run(scenario())


def test_invocations_in_flight_carry_into_the_next_minute() -> None:
    async def scenario() -> None:
        clock = ManualClock(START)
        metrics = Metrics(clock)
        series = metrics.series("fn", "$LATEST", ARN)
        series.begin(provisioned=False, unreserved=True, allocated=0)
        clock.advance(60)
        series.completed(False, 60_000.0)
        series.end(provisioned=False, unreserved=True)
        dims = {"FunctionName": "fn"}
        peaks = await metrics.points(LAMBDA, "ConcurrentExecutions", dims, START, START + 120)
        assert {t: s.maximum for t, s in peaks.items()} == {START: 1.0, START + 60: 1.0}

    asyncio.run(scenario())
