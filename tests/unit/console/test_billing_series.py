"""The usage the cost report reads: billed milliseconds per version and memory size, and
provisioned environment-seconds, kept in telemetry's Ember/Billing series (stored, merged
with what is not written yet, never listed as CloudWatch metrics)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ember.clock import ManualClock
from ember.telemetry.metrics import Metrics
from ember.telemetry.metrics_catalog import (
    BILLED_DURATION,
    BILLING,
    PROVISIONED_SECONDS,
    SNAPSTART_RESTORES,
    dimension_sets,
)
from ember.telemetry.metrics_store import MetricsStore

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
START = 1_700_000_040.0


def test_billed_milliseconds_round_up_with_init_per_memory_size(tmp_path: Path) -> None:
    async def run() -> None:
        clock = ManualClock(START)
        metrics = Metrics(clock, MetricsStore(tmp_path / "metrics.db"))
        series = metrics.series("fn", "$LATEST", ARN)
        series.billed(128, 512, 0.2, None)  # at least 1 ms
        series.billed(128, 512, 10.01, 30.5)  # a cold start: ceil(40.51) = 41
        await metrics.flush()  # one stored, then more pending
        clock.advance(60)
        series.billed(256, 1024, 5.0, None)  # memory changed: its own series
        series.billed(256, 1024, 5.0, None, 120.0)  # after a SnapStart restore
        usage = await metrics.usage(BILLED_DURATION, START, START + 120)
        assert {key: (s.count, s.total) for key, s in usage.items()} == {
            (BILLING, BILLED_DURATION, "fn", "128:512", "$LATEST"): (2, 42.0),
            (BILLING, BILLED_DURATION, "fn", "256:1024", "$LATEST"): (2, 10.0),
        }
        restores = await metrics.usage(SNAPSTART_RESTORES, START, START + 120)
        assert {key: s.count for key, s in restores.items()} == {
            (BILLING, SNAPSTART_RESTORES, "fn", "256", "$LATEST"): 1
        }
        assert await metrics.usage(BILLED_DURATION, START + 120, START + 180) == {}
        await metrics.close()

    asyncio.run(run())


def test_provisioned_seconds_count_up_to_the_read(tmp_path: Path) -> None:
    async def run() -> None:
        clock = ManualClock(START)
        metrics = Metrics(clock, MetricsStore(tmp_path / "metrics.db"))
        metrics.sample_provisioned(lambda: {("fn", "live", 512): 2})
        clock.advance(10)
        await metrics.flush()
        clock.advance(5)
        usage = await metrics.usage(PROVISIONED_SECONDS, START, START + 60)
        stat = usage[(BILLING, PROVISIONED_SECONDS, "fn", "512", "live")]
        assert stat.total == pytest.approx(2 * 15)
        await metrics.close()

    asyncio.run(run())


def test_billing_series_are_not_cloudwatch_metrics() -> None:
    assert dimension_sets((BILLING, BILLED_DURATION, "fn", "128:512", "$LATEST")) == []
