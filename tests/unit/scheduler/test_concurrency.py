import pytest

from ember.errors import TooManyRequestsError
from ember.scheduler.concurrency import Concurrency, Reservations


def _reason(error: pytest.ExceptionInfo[TooManyRequestsError]) -> object:
    return error.value.extra["Reason"]


def test_reserved_function_is_capped_at_its_reservation() -> None:
    c = Concurrency(Reservations(1000), scale_limit=1000, scale_window=10)
    c.reservations.set_reserved("f", 2)
    slots = [c.acquire("f", provisioned=False) for _ in range(2)]
    with pytest.raises(TooManyRequestsError) as info:
        c.acquire("f", provisioned=False)
    assert _reason(info) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert info.value.message == "Rate Exceeded."
    c.release(slots[0])
    c.acquire("f", provisioned=False)
    assert c.running("f") == 2


def test_reserved_zero_throttles_everything() -> None:
    c = Concurrency(Reservations(10), scale_limit=1000, scale_window=10)
    c.reservations.set_reserved("f", 0)
    with pytest.raises(TooManyRequestsError):
        c.acquire("f", provisioned=False)


def test_unreserved_pool_is_the_limit_minus_reservations() -> None:
    c = Concurrency(Reservations(5), scale_limit=1000, scale_window=10)
    c.reservations.set_reserved("big", 3)
    assert c.reservations.unreserved_capacity == 2
    c.acquire("a", provisioned=False)
    c.acquire("b", provisioned=False)
    with pytest.raises(TooManyRequestsError) as info:
        c.acquire("a", provisioned=False)
    assert _reason(info) == "ConcurrentInvocationLimitExceeded"
    # The reserved function still has its own three.
    for _ in range(3):
        c.acquire("big", provisioned=False)


def test_provisioned_capacity_is_preallocated() -> None:
    c = Concurrency(Reservations(5), scale_limit=1000, scale_window=10)
    c.reservations.set_provisioned("p", 2)
    assert c.reservations.unreserved_capacity == 3
    c.acquire("p", provisioned=True)
    c.acquire("p", provisioned=True)
    for _ in range(3):
        c.acquire("x", provisioned=False)
    with pytest.raises(TooManyRequestsError):
        c.acquire("p", provisioned=False)  # spill-over needs the unreserved pool


def test_scaling_rate_per_window() -> None:
    c = Concurrency(Reservations(1000), scale_limit=2, scale_window=10)
    c.note_new_environment("f", 0.0)
    c.note_new_environment("f", 1.0)
    with pytest.raises(TooManyRequestsError) as info:
        c.note_new_environment("f", 2.0)
    assert _reason(info) == "FunctionInvocationRateLimitExceeded"
    c.note_new_environment("g", 2.0)
    c.note_new_environment("f", 10.5)  # the first start left the window


def test_provisioned_part_of_a_reservation_is_not_for_on_demand() -> None:
    # Lambda: reserved 2 with 2 provisioned on version 1 throttles $LATEST at once.
    c = Concurrency(Reservations(100), scale_limit=1000, scale_window=10)
    c.reservations.set_reserved("f", 2)
    c.reservations.set_provisioned("f", 2)
    with pytest.raises(TooManyRequestsError) as info:
        c.acquire("f", provisioned=False)
    assert _reason(info) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    c.acquire("f", provisioned=True)
    c.acquire("f", provisioned=True)
    assert c.running("f") == 2


def test_on_demand_share_of_a_reservation_is_what_provisioned_leaves() -> None:
    c = Concurrency(Reservations(100), scale_limit=1000, scale_window=10)
    c.reservations.set_reserved("f", 3)
    c.reservations.set_provisioned("f", 1)
    slots = [c.acquire("f", provisioned=False) for _ in range(2)]
    with pytest.raises(TooManyRequestsError):
        c.acquire("f", provisioned=False)
    c.acquire("f", provisioned=True)
    c.release(slots[0])
    c.acquire("f", provisioned=False)
    assert c.running("f") == 3


def test_unreserved_capacity_counts_a_reserved_functions_provisioned_once() -> None:
    # Provisioned concurrency of a reserved function is part of its reservation.
    r = Reservations(100)
    r.set_provisioned("f", 2)
    r.set_provisioned("g", 3)
    assert r.unreserved_capacity == 95
    r.set_reserved("f", 10)
    assert (r.unreserved_capacity, r.holds("f"), r.holds("g")) == (87, 10, 3)
    r.set_provisioned("f", 4)
    assert r.unreserved_capacity == 87
    r.set_reserved("f", None)
    assert r.unreserved_capacity == 93
    r.forget("g")
    r.forget("f")
    assert (r.unreserved_capacity, r.reserved("f"), r.provisioned("g")) == (100, None, 0)


def test_the_scheduler_reads_what_control_writes() -> None:
    # One table: a reservation written after the Concurrency was built applies at once.
    r = Reservations(10)
    c = Concurrency(r, scale_limit=1000, scale_window=10)
    c.acquire("f", provisioned=False)
    r.set_reserved("f", 1)
    with pytest.raises(TooManyRequestsError):
        c.acquire("f", provisioned=False)
