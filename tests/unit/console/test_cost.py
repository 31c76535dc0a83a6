"""Pricing usage as Lambda bills it (pure: usage records in, priced lines out)."""

from __future__ import annotations

import math

import pytest

from ember.console.cost import price
from ember.console.pricing import load
from ember.console.usage import Cached, Invocations, Provisioned, Restored, Usage

PRICES = load()
DAY = 86400.0


def usage(*invocations: Invocations, provisioned=(), cached=(), days: float = 1.0) -> Usage:
    return Usage(0.0, days * DAY, tuple(invocations), tuple(provisioned), tuple(cached))


def test_the_table_is_dated_and_sourced() -> None:
    assert PRICES.region == "us-east-1"
    assert PRICES.retrieved.count("-") == 2
    assert "aws.amazon.com/lambda/pricing" in PRICES.source
    assert PRICES.per_request == pytest.approx(0.20 / 1_000_000)


def test_requests_and_duration_by_architecture() -> None:
    report = price(
        usage(
            Invocations("a", "$LATEST", "x86_64", 1024, 512, 1000, 1000 * 100.0),
            Invocations("b", "1", "arm64", 2048, 512, 10, 10 * 1000.0),
        ),
        PRICES,
    )
    lines = {(x.function, x.item.split()[0]): x for x in report.lines}
    assert lines["a", "Requests"].quantity == 1000
    assert lines["a", "Requests"].cost == pytest.approx(1000 * 0.0000002)
    assert lines["a", "Duration"].quantity == pytest.approx(100.0)  # 100 s at 1 GB
    assert lines["a", "Duration"].cost == pytest.approx(100.0 * 0.0000166667)
    assert lines["b", "Duration"].quantity == pytest.approx(20.0)  # 10 s at 2 GB
    assert lines["b", "Duration"].cost == pytest.approx(20.0 * 0.0000133334)
    assert report.requests == 1010
    assert report.total == pytest.approx(sum(x.cost for x in report.lines))


def test_ephemeral_storage_beyond_512_mb_only() -> None:
    report = price(usage(Invocations("a", "$LATEST", "x86_64", 128, 2560, 1, 2000.0)), PRICES)
    storage = [x for x in report.lines if x.item.startswith("Ephemeral")]
    assert len(storage) == 1
    assert storage[0].quantity == pytest.approx(2.0 * 2048 / 1024)  # 2 s of 2 GB extra
    assert storage[0].cost == pytest.approx(4.0 * 0.0000000309)
    plain = price(usage(Invocations("a", "$LATEST", "x86_64", 128, 512, 1, 2000.0)), PRICES)
    assert not [x for x in plain.lines if x.item.startswith("Ephemeral")]


def test_free_tier_is_apart_and_capped() -> None:
    small = price(usage(Invocations("a", "$LATEST", "x86_64", 128, 512, 5, 50.0)), PRICES)
    assert small.free_tier.requests == 5
    assert small.free_tier.credit == pytest.approx(small.total)
    assert small.total > 0
    assert small.total_after_free_tier == 0
    # 2M requests of 1 s at 1 GB: 1M requests and 400,000 GB-s are free.
    big = price(
        usage(Invocations("a", "$LATEST", "x86_64", 1024, 512, 2_000_000, 2_000_000 * 1000.0)),
        PRICES,
    )
    assert big.free_tier.requests == 1_000_000
    assert big.free_tier.gb_seconds == pytest.approx(400_000)
    expected = 1_000_000 * 0.0000002 + 1_600_000 * 0.0000166667
    assert big.total_after_free_tier == pytest.approx(expected)
    # A period of two months has two months' allowance.
    two = price(usage(days=45.0), PRICES)
    assert two.free_tier.requests_allowance == 2_000_000


def test_duration_tiers_past_six_billion_gb_seconds() -> None:
    gbs = 7e9  # 6e9 at the first tier, 1e9 at the second
    report = price(usage(Invocations("a", "$LATEST", "x86_64", 1024, 512, 1, gbs * 1000)), PRICES)
    duration = next(x for x in report.lines if x.item.startswith("Duration"))
    assert duration.cost == pytest.approx(6e9 * 0.0000166667 + 1e9 * 0.000015)


def test_provisioned_concurrency_and_snapstart_cache() -> None:
    report = price(
        usage(
            provisioned=[Provisioned("a", "live", "arm64", 512, 3600.0)],
            cached=[Cached("b", "3", 1024, 60.0)],
        ),
        PRICES,
    )
    pc = next(x for x in report.lines if x.item.startswith("Provisioned"))
    assert pc.quantity == pytest.approx(1800.0)  # an hour of 0.5 GB
    assert pc.cost == pytest.approx(1800.0 * 0.0000033334)
    cache = next(x for x in report.lines if x.item.startswith("SnapStart"))
    # Lambda bills a cached snapshot for at least 3 hours.
    assert cache.quantity == pytest.approx(10800.0)
    assert cache.cost == pytest.approx(10800.0 * 0.0000015046)
    assert math.isclose(report.free_tier.credit, 0.0)


def test_snapstart_restores_by_the_gb() -> None:
    restores = Usage(0.0, DAY, (), (), (), (Restored("b", "3", 2048, 5),))
    line = price(restores, PRICES).lines[0]
    assert line.item == "SnapStart restore 2048 MB (version 3)"
    assert (line.quantity, line.unit) == (10.0, "GB")
    assert line.cost == pytest.approx(10.0 * 0.0001397998)
