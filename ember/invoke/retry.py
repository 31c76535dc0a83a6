"""Lambda's retry rules for asynchronous events, as a pure decision: what happens next.

Function errors are retried `MaximumRetryAttempts` times (default 2), about one minute
and then two minutes later. Throttles and system errors are retried with exponential
backoff (1 s doubling up to 5 min) for as long as the event is younger than
`MaximumEventAgeInSeconds` (default 6 h); they do not use up retry attempts. An event
never runs past its maximum age: it then fails with condition EventAgeExceeded.

Delays carry jitter, so that events that failed together (a throttled burst, a function
that broke for everyone) do not all come back in the same instant: a backoff waits a
random time between half and all of its exponential delay ("equal jitter"); a function
error's retry waits its minute or two plus up to 10 % (never less: Lambda waits at least
that long, and a maximum event age of exactly one minute must not see a retry).
"""

from __future__ import annotations

import dataclasses
import enum
import random

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = 21_600  # seconds (6 hours)
FUNCTION_ERROR_DELAYS = (60.0, 120.0)  # before the first and the second retry
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
FUNCTION_ERROR_JITTER = 0.1  # a function error's retry: its delay times [1, 1 + this]
BACKOFF_JITTER_FLOOR = 0.5  # a backoff: its delay times a factor in [this, 1]


class OutcomeKind(enum.Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"  # the function ran and failed (a retry attempt)
    THROTTLED = "throttled"  # TooManyRequests: the function did not run
    SYSTEM_ERROR = "system-error"  # the platform failed; the function did not run
    GONE = "gone"  # the function (or qualifier) no longer exists: nothing can run it


class Condition(enum.StrEnum):
    """`requestContext.condition` in an invocation record."""

    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """An EventInvokeConfig's effective limits (the defaults where it sets none)."""

    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    max_event_age: float = DEFAULT_MAX_EVENT_AGE  # seconds, unscaled


@dataclasses.dataclass(frozen=True, slots=True)
class RunAgain:
    at: float  # wall seconds
    attempts: int
    backoffs: int


@dataclasses.dataclass(frozen=True, slots=True)
class Finished:
    condition: Condition | None  # None: dropped without a record (the function is gone)


Decision = RunAgain | Finished


class RetryPolicy:
    """Decides an event's next step. `scale` multiplies every delay and the maximum age
    (the server's --async-delay-scale); `jitter` False gives the exact delays (tests),
    `rng` the random source of the jitter."""

    def __init__(
        self, scale: float = 1.0, *, jitter: bool = True, rng: random.Random | None = None
    ) -> None:
        self._scale = scale
        self._jitter = jitter
        self._rng = rng or random.Random()

    def max_age(self, limits: Limits) -> float:
        return limits.max_event_age * self._scale

    def expired(self, received: float, now: float, limits: Limits) -> bool:
        """Is an event accepted at `received` too old to run at `now`?"""
        return now - received >= self.max_age(limits)

    def decide(
        self,
        kind: OutcomeKind,
        *,
        attempts: int,
        backoffs: int,
        received: float,
        now: float,
        limits: Limits,
    ) -> Decision:
        """The step after an attempt that ended as `kind`. `attempts` counts function runs
        including this one; `backoffs` the throttles and system errors before this one."""
        if kind is OutcomeKind.SUCCESS:
            return Finished(Condition.SUCCESS)
        if kind is OutcomeKind.GONE:
            return Finished(None)
        if kind is OutcomeKind.FUNCTION_ERROR:
            retries_done = attempts - 1
            if retries_done >= limits.retry_attempts:
                return Finished(Condition.RETRIES_EXHAUSTED)
            delay = FUNCTION_ERROR_DELAYS[min(retries_done, len(FUNCTION_ERROR_DELAYS) - 1)]
            if self._jitter:
                delay *= self._rng.uniform(1.0, 1 + FUNCTION_ERROR_JITTER)
            backoffs = 0
        else:
            delay = min(BACKOFF_FIRST * 2**backoffs, BACKOFF_MAX)
            if self._jitter:
                delay *= self._rng.uniform(BACKOFF_JITTER_FLOOR, 1.0)
            backoffs += 1
        # Never later than the moment the event expires: it is then failed as too old,
        # when Lambda would discard it, rather than after a wait that cannot end in a run.
        at = min(now + delay * self._scale, received + self.max_age(limits))
        return RunAgain(at=at, attempts=attempts, backoffs=backoffs)
