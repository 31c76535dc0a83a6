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

R_f and P_f live in one `Reservations` table: control validates, persists and writes
it; `Concurrency` reads it on every invocation. What GetAccountSettings reports is
therefore what throttling enforces.
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


class Reservations:
    """The account limit and each function's reserved (R_f) and provisioned (P_f, all its
    versions and aliases) concurrency: the one copy of the configuration that accounting
    reads. Written on configuration changes only, so the unreserved capacity is kept
    computed rather than summed on each invocation."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._reserved: dict[str, int] = {}  # function -> R_f
        self._provisioned: dict[str, int] = {}  # function -> P_f (absent when 0)
        self._held = 0  # what reservations and provisioned configs take from the limit

    def reserved(self, function: str) -> int | None:
        return self._reserved.get(function)

    def provisioned(self, function: str) -> int:
        return self._provisioned.get(function, 0)

    def holds(self, function: str) -> int:
        """What `function` takes from the account: its reservation, else its provisioned
        total (provisioned concurrency of a reserved function is part of R_f)."""
        reserved = self._reserved.get(function)
        return reserved if reserved is not None else self._provisioned.get(function, 0)

    @property
    def unreserved_capacity(self) -> int:
        """What GetAccountSettings calls UnreservedConcurrentExecutions: the limit less
        reservations and the provisioned concurrency of functions without one."""
        return self.limit - self._held

    def set_reserved(self, function: str, value: int | None) -> None:
        self._held -= self.holds(function)
        if value is None:
            self._reserved.pop(function, None)
        else:
            self._reserved[function] = value
        self._held += self.holds(function)

    def set_provisioned(self, function: str, total: int) -> None:
        self._held -= self.holds(function)
        if total:
            self._provisioned[function] = total
        else:
            self._provisioned.pop(function, None)
        self._held += self.holds(function)

    def forget(self, function: str) -> None:
        """The function was deleted: it holds nothing any more."""
        self._held -= self.holds(function)
        self._reserved.pop(function, None)
        self._provisioned.pop(function, None)


class Concurrency:
    """Slots in flight, checked against `reservations` (which this never writes)."""

    def __init__(self, reservations: Reservations, scale_limit: int, scale_window: float) -> None:
        self.reservations = reservations
        self._scale_limit = scale_limit
        self._scale_window = scale_window
        self._running: collections.Counter[str] = collections.Counter()  # function -> in flight
        # function -> in flight on on-demand environments (a reservation caps these at R - P)
        self._on_demand: collections.Counter[str] = collections.Counter()
        self._unreserved_running = 0
        self._starts: dict[str, collections.deque[float]] = {}  # function -> new env times

    def forget(self, function: str) -> None:
        """The function was deleted: drop its scaling history (what is in flight still
        gives its slots back; its reservations are control's to drop)."""
        self._starts.pop(function, None)

    # -- invocations --------------------------------------------------------------------

    def acquire(self, function: str, *, provisioned: bool) -> Slot:
        """Take a slot or raise the throttle Lambda would answer with."""
        reservations = self.reservations
        reserved = reservations.reserved(function)
        if reserved is not None:
            # Provisioned environments hold part of the reservation whether busy or not:
            # on-demand ones get only the rest. A provisioned environment is one of the
            # function's P_f, so taking it never exceeds R_f.
            on_demand_cap = reserved - reservations.provisioned(function)
            if not provisioned and self._on_demand[function] >= on_demand_cap:
                raise throttle("ReservedFunctionConcurrentInvocationLimitExceeded")
            slot = Slot(function, unreserved=False, on_demand=not provisioned)
        else:
            if not provisioned:
                if self._unreserved_running >= reservations.unreserved_capacity:
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
