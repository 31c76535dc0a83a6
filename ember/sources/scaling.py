"""How many batches a mapping keeps in flight: up with the backlog, down once it drains."""

from __future__ import annotations

import math

INITIAL = 5  # batches a new poller runs at once (Lambda starts SQS mappings with five)
STEP = 5  # workers added per tick at most (Lambda adds up to 300 a minute)
DRAIN_GOAL = 2.0  # seconds: a backlog that would take longer to drain asks for more


def next_workers(
    current: int, backlog: int, previous_backlog: int, batch_size: int, cap: int, tick: float
) -> int:
    """Workers for the next tick.

    Grows while the backlog needs more batches than are in flight and would not drain
    within DRAIN_GOAL at the rate of the last tick; never past `cap` (MaximumConcurrency,
    the function's reserved concurrency); shrinks to one poller when nothing waits."""
    if cap <= 0:
        return 0
    if backlog == 0:
        return min(cap, 1)
    need = math.ceil(backlog / batch_size)
    rate = (previous_backlog - backlog) / tick  # records/s drained (negative: growing)
    slow = rate <= 0 or backlog / rate > DRAIN_GOAL
    if need > current and slow:
        return min(cap, need, current + STEP)
    return min(cap, max(current, 1))
