"""The event queue's group commit (ember/store/group_commit.py): every enqueue, claim and
finish waits for a durable commit, and ops that arrive together share one transaction.
Each op's result is its own: one failing op (an illegal transition) fails only its caller.
"""

from __future__ import annotations

from ember.store.group_commit import CommitStatistics, GroupCommit
from ember.store.queue import EventQueue, Op

# Ops beyond this wait for the next batch (bounds one transaction's size and latency).
MAX_BATCH = 2048

CommitterStatistics = CommitStatistics


class GroupCommitter(GroupCommit[Op]):
    def __init__(self, queue: EventQueue) -> None:
        super().__init__(queue.apply, max_batch=MAX_BATCH)
