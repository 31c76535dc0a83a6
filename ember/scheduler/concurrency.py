"""Concurrency accounting: the account limit, reserved and provisioned concurrency, and
the per-function scaling rate. Pure bookkeeping, exact because the loop is one thread:
a slot is taken before the first await of an invocation and given back after its last.

    account limit L
    ├── reserved R_f for some functions (each function's executions <= R_f)
    └── unreserved pool = L - sum(R_f) - provisioned of functions without a reservation
        (shared by every function without a reservation)

Provisioned environments are capacity already allocated: an invocation served by one
takes no slot from the unreserved pool, but still counts toward its function's R_f. So a
function with R_f reserved and P_f provisioned runs at most R_f - P_f invocations on
on-demand environments (Lambda: with R_f == P_f, anything beyond the provisioned
environments, $LATEST included, is throttled).
"""

from __future__ import annotations

import collections
import dataclasses

from ember.errors import TooManyRequestsError

RATE_EXCEEDED = "Rate Exceeded."


def throttle(reason: str) -> TooManyRequestsError:
    return TooManyRequestsError(RATE_EXCEEDED, Reason=reason)


@dataclasses.dataclass(frozen=True, slots=True)
class Slot:
    """One invocation's claim; give it back with `Concurrency.release`."""

    function: str
    unreserved: bool  # counted against the shared unreserved pool
    on_demand: bool  # not served by a provisioned environment


class Concurrency:
    def __init__(self, limit: int, scale_limit: int, scale_window: float) -> None:
        self.limit = limit
        self._scale_limit = scale_limit
        self._scale_window = scale_window
        self._reserved: dict[str, int] = {}
        self._provisioned: dict[str, int] = {}  # function -> provisioned total (all versions)
        self._running: collections.Counter[str] = collections.Counter()  # function -> in flight
        # function -> in flight on on-demand environments (a reservation caps these at R - P)
        self._on_demand: collections.Counter[str] = collections.Counter()
        self._unreserved_running = 0
        self._starts: dict[str, collections.deque[float]] = {}  # function -> new env times

    # -- configuration ------------------------------------------------------------------

    def reserved(self, function: str) -> int | None:
        return self._reserved.get(function)

    def set_reserved(self, function: str, value: int | None) -> None:
        if value is None:
            self._reserved.pop(function, None)
        else:
            self._reserved[function] = value

    def set_provisioned(self, function: str, total: int) -> None:
        if total:
            self._provisioned[function] = total
        else:
            self._provisioned.pop(function, None)

    @property
    def unreserved_capacity(self) -> int:
        """What GetAccountSettings calls UnreservedConcurrentExecutions."""
        held = sum(self._reserved.values()) + sum(
            n for f, n in self._provisioned.items() if f not in self._reserved
        )
        return self.limit - held

    # -- invocations --------------------------------------------------------------------

    def acquire(self, function: str, *, provisioned: bool) -> Slot:
        """Take a slot or raise the throttle Lambda would answer with."""
        reserved = self._reserved.get(function)
        if reserved is not None:
            # Provisioned environments hold part of the reservation whether busy or not:
            # on-demand ones get only the rest. A provisioned environment is one of the
            # function's P_f, so taking it never exceeds R_f.
            on_demand_cap = reserved - self._provisioned.get(function, 0)
            if not provisioned and self._on_demand[function] >= on_demand_cap:
                raise throttle("ReservedFunctionConcurrentInvocationLimitExceeded")
            slot = Slot(function, unreserved=False, on_demand=not provisioned)
        else:
            if not provisioned:
                if self._unreserved_running >= self.unreserved_capacity:
                    raise throttle("ConcurrentInvocationLimitExceeded")
                self._unreserved_running += 1
            slot = Slot(function, unreserved=not provisioned, on_demand=not provisioned)
        self._running[function] += 1
        if slot.on_demand:
            self._on_demand[function] += 1
        return slot

    def release(self, slot: Slot) -> None:
        _decrement(self._running, slot.function)
        if slot.on_demand:
            _decrement(self._on_demand, slot.function)
        if slot.unreserved:
            self._unreserved_running -= 1

    def running(self, function: str | None = None) -> int:
        if function is None:
            return sum(self._running.values())
        return self._running[function]

    def note_new_environment(self, function: str, now: float) -> None:
        """Count a new on-demand environment against the scaling rate, or throttle."""
        starts = self._starts.setdefault(function, collections.deque())
        while starts and starts[0] <= now - self._scale_window:
            starts.popleft()
        if len(starts) >= self._scale_limit:
            raise throttle("FunctionInvocationRateLimitExceeded")
        starts.append(now)


def _decrement(counter: collections.Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
