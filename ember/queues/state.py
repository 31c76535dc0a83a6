"""One queue's live state in memory, as an explicit state machine per message:

    DELAYED ──(delay passes)──▶ VISIBLE ──(received)──▶ IN_FLIGHT ──(deleted)──▶ gone
                                   ▲                        │
                                   └──(visibility ends, or ChangeMessageVisibility 0)
    VISIBLE ──(received past maxReceiveCount)──▶ moved to the dead-letter queue
    any ──(retention passes, PurgeQueue, DeleteQueue)──▶ gone

Times are wall seconds (what the disk keeps). Methods only change memory and say what
changed; the service makes each change durable (storage) before it answers. A FIFO queue
keeps each message group in send order and gives nothing from a group while any of its
messages is in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
from collections import deque
from typing import Any

from ember.queues.attributes import Redrive, parse_redrive
from ember.queues.messages import Message


@dataclasses.dataclass(slots=True)
class Taken:
    """What one receive did: messages received, dropped (retention passed) and those that
    went past maxReceiveCount (to be moved to the dead-letter queue)."""

    received: list[Message] = dataclasses.field(default_factory=list)
    expired: list[Message] = dataclasses.field(default_factory=list)
    redriven: list[Message] = dataclasses.field(default_factory=list)


class QueueState:
    def __init__(
        self,
        name: str,
        arn: str,
        url: str,
        *,
        fifo: bool,
        attributes: dict[str, str],
        tags: dict[str, str],
        created: float,
        modified: float,
    ) -> None:
        self.name = name
        self.arn = arn
        self.url = url
        self.fifo = fifo
        self.attributes = attributes  # settable attributes, as GetQueueAttributes shows them
        self.tags = tags
        self.created = created
        self.modified = modified
        self.last_purge = float("-inf")
        self.messages: dict[int, Message] = {}  # seq -> message
        self._ready: deque[int] = deque()  # standard: VISIBLE seqs, oldest first (lazy)
        self._hidden: list[tuple[float, int]] = []  # (visible_at, seq) heap (lazy)
        self.in_flight: set[int] = set()
        self.delayed: set[int] = set()
        self._groups: dict[str, deque[int]] = {}  # FIFO: group -> its seqs in send order
        self._busy_groups: dict[str, int] = {}  # FIFO: group -> messages in flight
        # dedup key -> (message id, sequence number, expiry wall time)
        self.dedup: dict[str, tuple[str, str | None, float]] = {}
        self._changed = asyncio.Event()

    # -- attributes ----------------------------------------------------------------------

    def int_attribute(self, name: str) -> int:
        return int(self.attributes[name])

    @property
    def visibility_timeout(self) -> int:
        return int(self.attributes["VisibilityTimeout"])

    @property
    def redrive(self) -> Redrive | None:
        policy = self.attributes.get("RedrivePolicy")
        return parse_redrive(policy) if policy else None

    def doc(self) -> dict[str, Any]:
        return {"fifo": self.fifo, "attributes": self.attributes, "tags": self.tags,
                "created": self.created, "modified": self.modified}  # fmt: skip

    # -- waking long polls -----------------------------------------------------------------

    def changed(self) -> asyncio.Event:
        """An event set at the next change that may make a message receivable."""
        return self._changed

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def next_visible(self) -> float | None:
        """When the next hidden message may become visible (wall time), if any."""
        return self._hidden[0][0] if self._hidden else None

    # -- transitions -------------------------------------------------------------------------

    def add(self, message: Message, now: float) -> None:
        """A committed send (or a message redriven here)."""
        self.messages[message.seq] = message
        if self.fifo:
            assert message.group_id is not None
            self._groups.setdefault(message.group_id, deque()).append(message.seq)
        if message.visible_at > now:
            self.delayed.add(message.seq)
            heapq.heappush(self._hidden, (message.visible_at, message.seq))
        elif not self.fifo:
            self._ready.append(message.seq)

    def restore(self, message: Message, now: float) -> None:
        """A message read back at start-up, in its state at the stop."""
        if message.receives > 0 and message.visible_at > now:
            self.messages[message.seq] = message
            if self.fifo:
                assert message.group_id is not None
                self._groups.setdefault(message.group_id, deque()).append(message.seq)
            self._enter_flight(message)
        else:
            self.add(message, now)

    def advance(self, now: float) -> None:
        """Hidden messages whose time has come become VISIBLE."""
        hidden = self._hidden
        while hidden and hidden[0][0] <= now:
            visible_at, seq = heapq.heappop(hidden)
            message = self.messages.get(seq)
            if message is None or message.visible_at != visible_at:
                continue  # deleted, or hidden again since (a newer entry stands for it)
            if seq in self.delayed:
                self.delayed.discard(seq)
            elif seq in self.in_flight:
                self._leave_flight(message)
            else:
                continue
            if not self.fifo:
                self._ready.append(seq)

    def take(self, now: float, limit: int, visibility: int, redrive: Redrive | None) -> Taken:
        """Receive up to `limit` VISIBLE messages (they go IN_FLIGHT for `visibility` s)."""
        self.advance(now)
        taken = Taken()
        retention = self.int_attribute("MessageRetentionPeriod")
        if self.fifo:
            self._take_fifo(now, limit, visibility, redrive, retention, taken)
            return taken
        ready = self._ready
        while ready and len(taken.received) < limit:
            seq = ready.popleft()
            message = self.messages.get(seq)
            if message is None or seq in self.in_flight or seq in self.delayed:
                continue
            self._take_one(message, now, visibility, redrive, retention, taken)
        return taken

    def _take_fifo(
        self, now: float, limit: int, visibility: int, redrive: Redrive | None,
        retention: int, taken: Taken,
    ) -> None:  # fmt: skip
        for group, seqs in list(self._groups.items()):
            if len(taken.received) >= limit:
                return
            if self._busy_groups.get(group):
                continue
            index = 0
            while index < len(seqs) and len(taken.received) < limit:
                message = self.messages[seqs[index]]
                if message.visible_at > now:
                    break  # delayed: the rest of the group waits behind it
                before = len(taken.received)
                self._take_one(message, now, visibility, redrive, retention, taken)
                if len(taken.received) > before:
                    index += 1

    def _take_one(
        self, message: Message, now: float, visibility: int, redrive: Redrive | None,
        retention: int, taken: Taken,
    ) -> None:  # fmt: skip
        if message.sent + retention <= now:
            self.remove(message)
            taken.expired.append(message)
        elif redrive is not None and message.receives >= redrive.max_receives:
            self.remove(message)
            taken.redriven.append(message)
        else:
            message.receives += 1
            if message.first_receive is None:
                message.first_receive = now
            message.visible_at = now + visibility
            self._enter_flight(message)
            taken.received.append(message)

    def hide(self, message: Message, now: float, timeout: int) -> None:
        """ChangeMessageVisibility of an IN_FLIGHT message (0: VISIBLE at once)."""
        message.visible_at = now + timeout
        if timeout == 0:
            self._leave_flight(message)
            if not self.fifo:
                self._ready.append(message.seq)
        else:
            heapq.heappush(self._hidden, (message.visible_at, message.seq))

    def remove(self, message: Message) -> None:
        """Deleted, expired, redriven or purged: gone from every structure (lazy ones
        skip it later)."""
        self.messages.pop(message.seq, None)
        self.delayed.discard(message.seq)
        if message.seq in self.in_flight:
            self._leave_flight(message)
        if self.fifo and message.group_id is not None:
            seqs = self._groups.get(message.group_id)
            if seqs is not None:
                if seqs and seqs[0] == message.seq:
                    seqs.popleft()
                else:
                    seqs.remove(message.seq)
                if not seqs:
                    del self._groups[message.group_id]

    def purge(self, up_to: int) -> int:
        """PurgeQueue: every message sent before it (seq <= up_to) goes."""
        doomed = [m for seq, m in self.messages.items() if seq <= up_to]
        for message in doomed:
            self.remove(message)
        return len(doomed)

    def expired(self, now: float) -> list[Message]:
        """Messages past the retention period (removed here). `messages` is in send order
        but for redriven ones, so this stops at the first young message (a receive drops
        any older one it meets)."""
        cutoff = now - self.int_attribute("MessageRetentionPeriod")
        old = []
        for message in self.messages.values():
            if message.sent > cutoff:
                break
            old.append(message)
        for message in old:
            self.remove(message)
        return old

    def forget_duplicates(self, now: float) -> None:
        """Deduplication entries past their window (kept in the order they were made)."""
        done = []
        for key, (_, _, expires) in self.dedup.items():
            if expires > now:
                break
            done.append(key)
        for key in done:
            del self.dedup[key]

    def _enter_flight(self, message: Message) -> None:
        self.in_flight.add(message.seq)
        heapq.heappush(self._hidden, (message.visible_at, message.seq))
        if self.fifo and message.group_id is not None:
            self._busy_groups[message.group_id] = self._busy_groups.get(message.group_id, 0) + 1

    def _leave_flight(self, message: Message) -> None:
        self.in_flight.discard(message.seq)
        if self.fifo and message.group_id is not None:
            left = self._busy_groups.get(message.group_id, 0) - 1
            if left > 0:
                self._busy_groups[message.group_id] = left
            else:
                self._busy_groups.pop(message.group_id, None)

    # -- counts ------------------------------------------------------------------------------

    def counts(self, now: float) -> tuple[int, int, int]:
        """(visible, in flight, delayed)."""
        self.advance(now)
        in_flight, delayed = len(self.in_flight), len(self.delayed)
        return len(self.messages) - in_flight - delayed, in_flight, delayed
