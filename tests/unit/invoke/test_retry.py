"""Lambda's asynchronous retry rules, driven by a ManualClock: no waiting. Most checks
turn jitter off to see the exact delays; the last ones check the jitter itself."""

from __future__ import annotations

import itertools
import random

import pytest

from ember.clock import ManualClock
from ember.invoke.retry import (
    Condition,
    Finished,
    Limits,
    OutcomeKind,
    RetryPolicy,
    RunAgain,
)


def run_to_end(
    policy: RetryPolicy, clock: ManualClock, outcomes: list[OutcomeKind], limits: Limits
) -> tuple[list[float], Finished]:
    """Play attempts with the given outcomes (the last repeats), moving the clock to each
    retry's time as the dispatcher would. Returns the attempt times and the end."""
    received = clock.wall()
    attempts = backoffs = 0
    times: list[float] = []
    for step in range(100):
        if policy.expired(received, clock.wall(), limits):
            return times, Finished(Condition.EVENT_AGE_EXCEEDED)
        times.append(clock.wall())
        kind = outcomes[min(step, len(outcomes) - 1)]
        ran = kind in (OutcomeKind.SUCCESS, OutcomeKind.FUNCTION_ERROR)
        attempts += ran
        decision = policy.decide(
            kind, attempts=attempts, backoffs=backoffs, received=received, now=clock.wall(),
            limits=limits,
        )  # fmt: skip
        if isinstance(decision, Finished):
            return times, decision
        assert decision.at >= clock.wall()
        clock.advance(decision.at - clock.wall())
        backoffs = decision.backoffs
    raise AssertionError("the policy never finished")


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


def test_success_ends_at_once() -> None:
    clock = ManualClock()
    times, end = run_to_end(RetryPolicy(jitter=False), clock, [OutcomeKind.SUCCESS], Limits())
    assert len(times) == 1
    assert end == Finished(Condition.SUCCESS)


@pytest.mark.parametrize(("retries", "expected_gaps"), [(0, []), (1, [60.0]), (2, [60.0, 120.0])])
def test_function_errors_retry_after_one_then_two_minutes(
    retries: int, expected_gaps: list[float]
) -> None:
    clock = ManualClock()
    times, end = run_to_end(
        RetryPolicy(jitter=False),
        clock,
        [OutcomeKind.FUNCTION_ERROR],
        Limits(retry_attempts=retries),
    )
    assert len(times) == retries + 1
    assert gaps(times) == expected_gaps
    assert end == Finished(Condition.RETRIES_EXHAUSTED)


def test_default_is_two_retries() -> None:
    times, end = run_to_end(
        RetryPolicy(jitter=False), ManualClock(), [OutcomeKind.FUNCTION_ERROR], Limits()
    )
    assert len(times) == 3
    assert end.condition is Condition.RETRIES_EXHAUSTED


def test_scale_shrinks_every_delay() -> None:
    times, _ = run_to_end(
        RetryPolicy(scale=0.01, jitter=False), ManualClock(), [OutcomeKind.FUNCTION_ERROR], Limits()
    )
    assert gaps(times) == [0.6, 1.2]


def test_a_retry_that_would_outlive_the_event_ends_it_at_its_maximum_age() -> None:
    clock = ManualClock()
    start = clock.wall()
    # 100 s: the first retry (at 60 s) runs, the second (at 180 s) would be too old.
    times, end = run_to_end(
        RetryPolicy(jitter=False), clock, [OutcomeKind.FUNCTION_ERROR], Limits(max_event_age=100)
    )
    assert gaps(times) == [60.0]
    assert end == Finished(Condition.EVENT_AGE_EXCEEDED)
    assert clock.wall() - start == 100.0  # failed when it expired, not at 180 s


def test_throttles_back_off_exponentially_without_using_attempts() -> None:
    clock = ManualClock()
    outcomes = [OutcomeKind.THROTTLED] * 12 + [OutcomeKind.FUNCTION_ERROR]
    times, end = run_to_end(RetryPolicy(jitter=False), clock, outcomes, Limits(retry_attempts=0))
    assert gaps(times)[:12] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    # twelve throttles, then the one function run it was allowed
    assert len(times) == 13
    assert end == Finished(Condition.RETRIES_EXHAUSTED)


def test_system_errors_retry_until_the_maximum_age() -> None:
    clock = ManualClock()
    start = clock.wall()
    times, end = run_to_end(
        RetryPolicy(jitter=False), clock, [OutcomeKind.SYSTEM_ERROR], Limits(max_event_age=60)
    )
    # attempts at 0, 1, 3, 7, 15 and 31 s; the next (63 s) would be too old
    assert gaps(times) == [1, 2, 4, 8, 16]
    assert end == Finished(Condition.EVENT_AGE_EXCEEDED)
    assert clock.wall() - start == 60


def test_a_function_error_after_throttles_restarts_the_backoff() -> None:
    decision = RetryPolicy(jitter=False).decide(
        OutcomeKind.FUNCTION_ERROR, attempts=1, backoffs=5, received=0.0, now=10.0,
        limits=Limits(),
    )  # fmt: skip
    assert decision == RunAgain(at=70.0, attempts=1, backoffs=0)


def test_a_gone_function_drops_the_event_without_a_condition() -> None:
    decision = RetryPolicy(jitter=False).decide(
        OutcomeKind.GONE, attempts=0, backoffs=0, received=0.0, now=1.0, limits=Limits()
    )
    assert decision == Finished(None)


def test_an_event_is_expired_exactly_at_its_maximum_age() -> None:
    policy = RetryPolicy(scale=0.5, jitter=False)
    limits = Limits(max_event_age=60)
    assert not policy.expired(100.0, 129.99, limits)
    assert policy.expired(100.0, 130.0, limits)


def test_backoffs_are_jittered_between_half_and_all_of_their_delay() -> None:
    policy = RetryPolicy(rng=random.Random(7))
    delays = []
    for backoffs in range(12):
        decision = policy.decide(
            OutcomeKind.THROTTLED, attempts=0, backoffs=backoffs, received=0.0, now=10.0,
            limits=Limits(),
        )  # fmt: skip
        assert isinstance(decision, RunAgain)
        delays.append(decision.at - 10.0)
    exact = [min(2.0**n, 300.0) for n in range(12)]
    assert all(e / 2 <= d <= e for d, e in zip(delays, exact, strict=True))
    assert delays != exact  # some randomness


def test_function_error_retries_are_jittered_up_to_ten_percent_later() -> None:
    policy = RetryPolicy(rng=random.Random(3))
    seen = set()
    for _ in range(20):
        decision = policy.decide(
            OutcomeKind.FUNCTION_ERROR, attempts=1, backoffs=0, received=0.0, now=0.0,
            limits=Limits(),
        )  # fmt: skip
        assert isinstance(decision, RunAgain)
        assert 60.0 <= decision.at <= 66.0  # Lambda waits at least its minute
        seen.add(round(decision.at, 3))
    assert len(seen) > 1  # events that failed together do not all come back together


def test_jitter_never_outlives_the_event() -> None:
    policy = RetryPolicy(rng=random.Random(1))
    decision = policy.decide(
        OutcomeKind.FUNCTION_ERROR, attempts=1, backoffs=0, received=0.0, now=50.0,
        limits=Limits(max_event_age=100),
    )  # fmt: skip
    assert isinstance(decision, RunAgain)
    assert decision.at <= 100.0
