"""EventBridge schedule expressions: what they accept and when they fire next (UTC)."""

from __future__ import annotations

import datetime

import pytest

from ember.rules import schedule
from ember.rules.errors import InvalidScheduleError

NOW = "2026-11-28T10:00:00"  # a Saturday


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M")


def next_fire(expression: str, after: str = NOW) -> str | None:
    return iso(schedule.parse(expression, anchor=0).next_after(at(after)))


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # AWS's documented examples.
        ("cron(0 10 * * ? *)", NOW, "2026-11-29T10:00"),  # 10:00 every day (strictly after)
        ("cron(15 12 * * ? *)", NOW, "2026-11-28T12:15"),
        ("cron(0 18 ? * MON-FRI *)", NOW, "2026-11-30T18:00"),
        ("cron(0 8 1 * ? *)", NOW, "2026-12-01T08:00"),
        ("cron(0/15 * * * ? *)", "2026-11-28T10:07:00", "2026-11-28T10:15"),
        ("cron(0/10 * ? * MON-FRI *)", NOW, "2026-11-30T00:00"),
        ("cron(0/5 8-17 ? * MON-FRI *)", "2026-11-30T17:56:00", "2026-12-01T08:00"),
        ("cron(0 9 ? * 2#1 *)", NOW, "2026-12-07T09:00"),  # first Monday
        ("cron(5,35 14 * * ? *)", NOW, "2026-11-28T14:05"),
        ("cron(15 10 ? * 6L 2022-2027)", NOW, "2026-12-25T10:15"),  # last Friday
        ("cron(0 12 L * ? *)", NOW, "2026-11-30T12:00"),
        ("cron(0 12 LW * ? *)", "2027-01-01T00:00:00", "2027-01-29T12:00"),  # 31st is a Sunday
        ("cron(0 12 1W * ? *)", "2026-12-02T00:00:00", "2027-01-01T12:00"),
        ("cron(0 12 1W * ? *)", "2027-05-02T00:00:00", "2027-05-03T12:00"),  # Sat 1st -> Mon 3rd
        ("cron(0 12 15W * ? *)", "2026-11-01T00:00:00", "2026-11-16T12:00"),  # Sun 15th -> Mon
        ("cron(0 12 ? * 3#2 *)", NOW, "2026-12-08T12:00"),
        ("cron(0 12 ? * SUN,SAT *)", NOW, "2026-11-28T12:00"),
        ("cron(0 12 ? * L *)", NOW, "2026-11-28T12:00"),  # a bare L: Saturday
        ("cron(0 0 29 2 ? *)", NOW, "2028-02-29T00:00"),
        ("cron(0 0 1 JAN ? *)", NOW, "2027-01-01T00:00"),
        ("cron(* * * * ? *)", "2026-11-28T10:00:30", "2026-11-28T10:01"),
        ("cron(0 0 1 1 ? 2025)", NOW, None),  # never again
    ],
)
def test_cron_next_fire(expression: str, after: str, expected: str | None) -> None:
    assert next_fire(expression, after) == expected


def test_rate_counts_whole_periods_from_its_anchor() -> None:
    rate = schedule.parse("rate(5 minutes)", anchor=1000.0)
    assert rate.next_after(1000.0) == 1300.0  # never at the anchor itself
    assert rate.next_after(1299.9) == 1300.0
    assert rate.next_after(1300.0) == 1600.0
    assert rate.next_after(500.0) == 1300.0
    assert schedule.parse("rate(1 hour)", anchor=0).next_after(0) == 3600
    assert schedule.parse("rate(2 days)", anchor=0).next_after(0) == 2 * 86400
    assert schedule.parse("rate(1 minute)", anchor=0, scale=0.01).next_after(0) == pytest.approx(
        0.6
    )


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(2 minute)",
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(1 week)",
        "rate(1.5 hours)",
        "cron(0 12 * * * *)",  # neither day field is ?
        "cron(0 12 ? * ? *)",  # both are
        "cron(0 12 * *)",
        "cron(60 12 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 ? * 2#6 *)",
        "cron(0 12 ? 13 * *)",
        "cron(0 12 * * ? 1969)",
        "cron(0/0 12 * * ? *)",
        "cron(5-1 12 * * ? *)",
        "every day",
        "",
    ],
)
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(InvalidScheduleError) as refused:
        schedule.parse(expression, anchor=0)
    assert refused.value.message == "Parameter ScheduleExpression is not valid."
    assert refused.value.code == "ValidationException"
