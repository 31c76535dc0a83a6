"""How the server's open-file limit is shared: its reserve, environments, and the descriptors
lent to environments' extra connections."""

from __future__ import annotations

from ember.sandbox.descriptors import (
    FDS_PER_ENVIRONMENT,
    RELAYED_FDS,
    RESERVED_FDS,
    Allowance,
    DescriptorBudget,
)
from ember.sandbox.network_relay import CONNECTIONS


def test_the_limit_is_shared_between_reserve_environments_and_connections() -> None:
    budget = DescriptorBudget(soft=600, hard=600, was=600)
    assert budget.connections == (600 - 128) // 4 == 118
    assert budget.environments == (600 - 128 - 118) // 10 == 35
    # Whatever environments hold and borrow, the total stays within the limit.
    held = RESERVED_FDS + budget.environments * FDS_PER_ENVIRONMENT + budget.connections
    assert held <= budget.soft
    assert "room for 35 environments, and 118 descriptors shared" in budget.summary()


def test_a_large_limit_leaves_most_to_environments() -> None:
    budget = DescriptorBudget(soft=1 << 20, hard=1 << 20, was=1024)
    assert budget.environments == ((1 << 20) - 128 - budget.connections) // 10 > 78_000
    assert "(raised from 1024)" in budget.summary()


def test_an_allowance_lends_what_it_has_and_counts_refusals() -> None:
    allowance = Allowance(2 * RELAYED_FDS)
    assert allowance.take(RELAYED_FDS)
    assert allowance.take(RELAYED_FDS)
    assert not allowance.take(1)
    assert (allowance.used, allowance.refused) == (6, 1)
    allowance.give_back(RELAYED_FDS)
    assert allowance.take(1)
    assert allowance.used == 4


def test_one_environment_takes_under_a_tenth_of_the_allowance_of_a_common_limit() -> None:
    # 1,024 raised to a 4,096 hard limit: one environment's relays hold 48 of 992.
    budget = DescriptorBudget(soft=4096, hard=4096, was=1024)
    assert budget.connections // 10 > CONNECTIONS * RELAYED_FDS
