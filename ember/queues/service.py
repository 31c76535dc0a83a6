"""`Queues`: the queues of this server — their resource model (create, attributes, tags,
delete) and their messages (send, receive with long polling, delete, visibility, redrive,
retention), durable through group commits before any answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ember.clock import Clock
from ember.config import Settings
from ember.queues.attributes import (
    COUNTS,
    DEFAULTS,
    FIFO_DEFAULTS,
    check_name,
    is_fifo_request,
    normalise,
    parse_redrive,
    redrive_allows,
)
from ember.queues.errors import (
    MessageNotInflightError,
    PurgeQueueInProgressError,
    QueueDoesNotExistError,
    QueueError,
    QueueInvalidParameterError,
    QueueNameExistsError,
    ReceiptHandleIsInvalidError,
    invalid_value,
)
from ember.queues.messages import Message, parse_receipt, use_receipt_key
from ember.queues.model import Naming, QueueInfo, Received, Sent
from ember.queues.sending import Prepared, build_message
from ember.queues.state import QueueState
from ember.queues.storage import (
    Committer,
    CommitterStatistics,
    DedupEntry,
    Delete,
    DropQueue,
    ForgetDedup,
    Insert,
    Move,
    Op,
    Purge,
    PutQueue,
    QueueStore,
    Update,
)

DEDUP_WINDOW = 300.0  # seconds: FIFO deduplication interval (AWS: 5 minutes)
PURGE_INTERVAL = 60.0  # seconds between two PurgeQueue calls on one queue (AWS)
SWEEP_INTERVAL = 5.0  # seconds between retention sweeps
MAX_TAGS = 50


class Queues:
    """Not thread-safe: the event loop's. Blocking work goes to the committer's thread."""

    def __init__(self, settings: Settings, path: Path, clock: Clock) -> None:
        self.naming = Naming(settings.region, settings.account_id, settings.public_url)
        self._clock = clock
        self._store = QueueStore(path)
        use_receipt_key(path.with_suffix(".key"))  # beside the messages, kept across restarts
        self._committer = Committer(self._store)
        self._queues: dict[str, QueueState] = {}
        self._next_seq = 0
        self._load()

    # -- lifecycle ---------------------------------------------------------------------------

    def _load(self) -> None:
        loaded = self._store.load()
        now = self._clock.wall()
        for name, doc in loaded.queues.items():
            self._queues[name] = self._state(name, doc)
        last = 0
        for message in loaded.messages:
            last = message.seq
            state = self._queues.get(message.queue)
            if state is not None:
                state.restore(message, now)
        for entry in sorted(loaded.dedup, key=lambda e: e.expires):
            state = self._queues.get(entry.queue)
            if state is not None and entry.expires > now:
                state.dedup[entry.dedup_id] = (entry.message_id, entry.sequence_number,
                                               entry.expires)  # fmt: skip
        # Never reuse a seq (receipt handles name it), even one deleted before a crash.
        self._next_seq = max(last + 1, int(now * 1_000_000))

    def _state(self, name: str, doc: Mapping[str, Any]) -> QueueState:
        return QueueState(
            name, self.naming.arn(name), self.naming.url(name), fifo=bool(doc["fifo"]),
            attributes=dict(doc["attributes"]), tags=dict(doc["tags"]),
            created=float(doc["created"]), modified=float(doc["modified"]),
        )  # fmt: skip

    async def run(self) -> None:
        """The group committer and the retention sweep, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._committer.run(), name="queue-commits")
            tasks.create_task(self._sweep(), name="queue-retention")

    def close(self) -> None:
        self._store.close()

    def statistics(self) -> CommitterStatistics:
        """Group commits so far: how many, how many ops, the largest batch."""
        return self._committer.statistics()

    async def _sweep(self) -> None:
        while True:
            await self._clock.sleep(SWEEP_INTERVAL)
            now = self._clock.wall()
            gone: list[int] = []
            for state in list(self._queues.values()):
                gone += [m.seq for m in state.expired(now)]
                state.forget_duplicates(now)
            ops: list[Op] = [ForgetDedup(now)]
            if gone:
                ops.append(Delete(gone))
            with contextlib.suppress(QueueError):  # a failed sweep is retried next time
                await self._committer.submit(*ops)

    # -- lookups -------------------------------------------------------------------------------

    def queue(self, name: str) -> QueueState:
        state = self._queues.get(name)
        if state is None:
            raise QueueDoesNotExistError()
        return state

    def by_url(self, url: str) -> QueueState:
        return self.queue(self.naming.name_of_url(url))

    def by_arn(self, arn: str) -> QueueState:
        return self.queue(self.naming.name_of_arn(arn))

    def names(self) -> list[str]:
        return sorted(self._queues)

    # -- the resource model ------------------------------------------------------------------

    async def create_queue(
        self, name: str, attributes: Mapping[str, Any], tags: Mapping[str, str]
    ) -> str:
        """CreateQueue: the queue's URL; the same URL for an existing queue when every given
        attribute matches it (AWS), QueueNameExists otherwise."""
        given = {k: str(v) for k, v in attributes.items()}
        fifo = is_fifo_request(name, given)
        check_name(name, fifo=fifo)
        normal = normalise(given, fifo=fifo, creating=True)
        self._check_redrive(name, fifo, normal)
        existing = self._queues.get(name)
        if existing is not None:
            if existing.fifo != fifo:
                raise QueueNameExistsError(
                    "A queue already exists with the same name and a different value for "
                    "attribute FifoQueue"
                )
            for key, value in normal.items():
                if existing.attributes.get(key, DEFAULTS.get(key)) != value:
                    raise QueueNameExistsError(
                        "A queue already exists with the same name and a different value for "
                        f"attribute {key}"
                    )
            return existing.url
        _check_tags(tags, 0)
        now = float(int(self._clock.wall()))
        merged = {**DEFAULTS, **(FIFO_DEFAULTS if fifo else {}), **normal}
        state = QueueState(
            name, self.naming.arn(name), self.naming.url(name), fifo=fifo, attributes=merged,
            tags=dict(tags), created=now, modified=now,
        )  # fmt: skip
        self._queues[name] = state  # before the commit: a concurrent create sees it
        try:
            await self._committer.submit(PutQueue(name, state.doc()))
        except BaseException:
            self._queues.pop(name, None)
            raise
        return state.url

    def _check_redrive(self, name: str, fifo: bool, attributes: Mapping[str, str]) -> None:
        policy = attributes.get("RedrivePolicy")
        if not policy:
            return
        redrive = parse_redrive(policy)

        def bad(reason: str) -> QueueError:
            return invalid_value("RedrivePolicy", policy, reason)

        try:
            target = self.by_arn(redrive.dead_letter_arn)
        except QueueDoesNotExistError:
            raise bad("Dead letter target does not exist.") from None
        if target.fifo != fifo:
            raise bad("Dead-letter queue must be same type of queue as the source.")
        if not redrive_allows(target.attributes.get("RedriveAllowPolicy"), self.naming.arn(name)):
            raise bad("Amazon SQS can't send messages from this queue to the dead-letter queue: "
                      "its RedriveAllowPolicy does not allow it.")  # fmt: skip

    def queue_url(self, name: str, owner: str | None = None) -> str:
        if owner is not None and owner != self.naming.account:
            raise QueueDoesNotExistError()
        return self.queue(name).url

    def list_urls(self, prefix: str = "", source_of: str | None = None) -> list[str]:
        """Queue URLs by name (ListQueues), or those whose dead-letter queue is the queue ARN
        `source_of` (ListDeadLetterSourceQueues)."""
        found = []
        for name in sorted(self._queues):
            state = self._queues[name]
            if not name.startswith(prefix):
                continue
            if source_of is not None:
                redrive = state.redrive
                if redrive is None or redrive.dead_letter_arn != source_of:
                    continue
            found.append(state.url)
        return found

    async def delete_queue(self, name: str) -> None:
        state = self._queues.pop(name, None)
        if state is None:
            raise QueueDoesNotExistError()
        state.notify()  # long polls on it end (and find it gone)
        await self._committer.submit(DropQueue(name))

    def get_attributes(self, name: str, wanted: Sequence[str]) -> dict[str, str]:
        """GetQueueAttributes' answer for `wanted` names (`All` for all); unknown names
        were refused by the caller."""
        state = self.queue(name)
        visible, in_flight, delayed = state.counts(self._clock.wall())
        everything = {
            "QueueArn": state.arn,
            COUNTS[0]: str(visible),
            COUNTS[1]: str(in_flight),
            COUNTS[2]: str(delayed),
            "CreatedTimestamp": str(int(state.created)),
            "LastModifiedTimestamp": str(int(state.modified)),
            **state.attributes,
        }
        if "All" in wanted:
            return everything
        return {k: everything[k] for k in wanted if k in everything}

    async def set_attributes(self, name: str, attributes: Mapping[str, Any]) -> None:
        state = self.queue(name)
        given = {k: str(v) for k, v in attributes.items()}
        normal = normalise(given, fifo=state.fifo, creating=False)
        self._check_redrive(name, state.fifo, normal)
        updated = dict(state.attributes)
        for key, value in normal.items():
            if key in ("RedrivePolicy", "RedriveAllowPolicy", "Policy") and value == "":
                updated.pop(key, None)  # an empty value removes the policy (AWS)
            else:
                updated[key] = value
        state.attributes = updated
        state.modified = float(int(self._clock.wall()))
        await self._committer.submit(PutQueue(name, state.doc()))

    async def tag(self, name: str, tags: Mapping[str, str]) -> None:
        state = self.queue(name)
        _check_tags(tags, len(set(state.tags) - set(tags)))
        state.tags = {**state.tags, **tags}
        await self._committer.submit(PutQueue(name, state.doc()))

    async def untag(self, name: str, keys: Sequence[str]) -> None:
        state = self.queue(name)
        state.tags = {k: v for k, v in state.tags.items() if k not in keys}
        await self._committer.submit(PutQueue(name, state.doc()))

    async def purge(self, name: str) -> None:
        state = self.queue(name)
        now = self._clock.monotonic()
        if now - state.last_purge < PURGE_INTERVAL:
            raise PurgeQueueInProgressError(
                f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
            )
        state.last_purge = now
        up_to = self._next_seq - 1
        state.purge(up_to)
        await self._committer.submit(Purge(name, up_to))

    # -- sending -------------------------------------------------------------------------------

    def prepare(
        self, state: QueueState, body: Any, *, delay: int | None = None,
        attributes: Mapping[str, Any] | None = None, system: Mapping[str, Any] | None = None,
        group_id: str | None = None, dedup_id: str | None = None, sender_id: str | None = None,
        batch: bool = False,
    ) -> Prepared:  # fmt: skip
        """Check one message for `state` and build it (nothing stored yet)."""
        prepared = build_message(
            state, body, seq=self._next_seq, now=self._clock.wall(), delay=delay,
            attributes=attributes, system=system, group_id=group_id, dedup_id=dedup_id,
            sender_id=sender_id or self.naming.account, batch=batch,
        )  # fmt: skip
        self._next_seq += 1
        return prepared

    async def commit_sends(self, state: QueueState, prepared: Sequence[Prepared]) -> list[Sent]:
        """Store prepared messages in one group commit; duplicates (FIFO, within the
        deduplication interval) are answered with the first message's id, not stored."""
        now = self._clock.wall()
        answers: list[Sent] = []
        fresh: list[Message] = []
        entries: list[DedupEntry] = []
        for p in prepared:
            m = p.message
            if p.dedup_key is not None:
                seen = state.dedup.get(p.dedup_key)
                if seen is not None and seen[2] > now:
                    answers.append(Sent(seen[0], m.md5_of_body, m.md5_of_attributes,
                                        m.md5_of_system, seen[1]))  # fmt: skip
                    continue
                expires = now + DEDUP_WINDOW
                state.dedup.pop(p.dedup_key, None)  # re-made: last in expiry order
                state.dedup[p.dedup_key] = (m.message_id, m.sequence_number, expires)
                entries.append(DedupEntry(state.name, p.dedup_key, m.message_id,
                                          m.sequence_number, expires))  # fmt: skip
            fresh.append(m)
            answers.append(Sent(m.message_id, m.md5_of_body, m.md5_of_attributes,
                                m.md5_of_system, m.sequence_number))  # fmt: skip
        if fresh:
            try:
                await self._committer.submit(Insert(fresh, entries))
            except BaseException:
                for entry in entries:
                    state.dedup.pop(entry.dedup_id, None)
                raise
            if self._queues.get(state.name) is state:
                now = self._clock.wall()
                for m in fresh:
                    state.add(m, now)
                state.notify()
        return answers

    # -- receiving -----------------------------------------------------------------------------

    async def receive_messages(
        self, name: str, *, limit: int, visibility: int | None = None, wait: float | None = None
    ) -> list[Received]:
        """Up to `limit` messages; with `wait` > 0 a long poll that returns as soon as any
        becomes visible (a send, a visibility timeout ending, a FIFO group freed)."""
        state = self.queue(name)
        if wait is None:
            wait = float(state.int_attribute("ReceiveMessageWaitTimeSeconds"))
        deadline = self._clock.monotonic() + wait
        while True:
            state = self.queue(name)
            changed = state.changed()
            received = await self._take(state, limit, visibility)
            if received:
                return received
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return []
            due = state.next_visible()
            if due is not None:
                remaining = min(remaining, max(due - self._clock.wall(), 0.0) + 0.001)
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(remaining):
                    await changed.wait()

    async def _take(self, state: QueueState, limit: int, visibility: int | None) -> list[Received]:
        now = self._clock.wall()
        redrive = state.redrive
        target = None
        if redrive is not None:
            with contextlib.suppress(QueueDoesNotExistError):
                target = self.by_arn(redrive.dead_letter_arn)
        taken = state.take(
            now, limit, state.visibility_timeout if visibility is None else visibility,
            redrive if target is not None else None,
        )  # fmt: skip
        answer = [Received.of(m) for m in taken.received]
        ops: list[Op] = []
        if taken.received:
            ops.append(Update([(m.visible_at, m.receives, m.first_receive, m.seq)
                               for m in taken.received]))  # fmt: skip
        if taken.expired:
            ops.append(Delete([m.seq for m in taken.expired]))
        if target is not None:
            for m in taken.redriven:  # AWS keeps its id, body and sent time
                m.queue, m.receives, m.first_receive, m.visible_at = target.name, 0, None, now
                m.dead_letter_source = state.arn
                ops.append(Move(m))
        if ops:
            await self._committer.submit(*ops)
        if taken.redriven and target is not None and self._queues.get(target.name) is target:
            for m in taken.redriven:
                target.add(m, now)
            target.notify()
        return answer

    # -- deleting and visibility ---------------------------------------------------------------

    def _in_flight(self, state: QueueState, handle: str, *, deleting: bool) -> Message | None:
        """The message a receipt handle names, if it is still the latest receive of it
        (None: nothing to do, as AWS answers for a gone message or a stale standard one)."""
        receipt = parse_receipt(handle)
        if receipt.queue != state.name:
            raise ReceiptHandleIsInvalidError(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        message = state.messages.get(receipt.seq)
        stale = message is None or message.receives != receipt.receives
        if not stale and message is not None and message.seq in state.in_flight:
            return message
        if state.fifo and message is not None:
            raise invalid_value("ReceiptHandle", handle, "The receipt handle has expired.")
        if deleting:
            return None
        raise MessageNotInflightError(
            "Message does not exist or is not available for visibility timeout change."
        )

    async def delete_messages(self, name: str, handles: Sequence[str]) -> list[QueueError | None]:
        """DeleteMessage(Batch): one outcome per handle; the deletions share one commit."""
        state = self.queue(name)
        outcomes: list[QueueError | None] = []
        gone: list[int] = []
        standard_gone: list[Message] = []
        for handle in handles:
            try:
                message = self._in_flight(state, handle, deleting=True)
            except QueueError as exc:
                outcomes.append(exc)
                continue
            outcomes.append(None)
            if message is None:
                receipt = parse_receipt(handle)
                stale = state.messages.get(receipt.seq)
                if stale is not None and not state.fifo and stale.receives == receipt.receives:
                    standard_gone.append(stale)  # visible again, but not received since
                continue
            gone.append(message.seq)
            state.remove(message)
        for message in standard_gone:
            gone.append(message.seq)
            state.remove(message)
        if gone:
            await self._committer.submit(Delete(gone))
            if state.fifo:
                state.notify()  # a group may be free again
        return outcomes

    async def change_visibilities(
        self, name: str, changes: Sequence[tuple[str, int]]
    ) -> list[QueueError | None]:
        state = self.queue(name)
        now = self._clock.wall()
        outcomes: list[QueueError | None] = []
        rows = []
        for handle, timeout in changes:
            try:
                if not 0 <= timeout <= 43_200:
                    raise invalid_value("VisibilityTimeout", timeout,
                                        "Must be between 0 and 43200, if provided.")  # fmt: skip
                message = self._in_flight(state, handle, deleting=False)
            except QueueError as exc:
                outcomes.append(exc)
                continue
            assert message is not None
            state.hide(message, now, timeout)
            rows.append((message.visible_at, message.receives, message.first_receive, message.seq))
            outcomes.append(None)
        if rows:
            await self._committer.submit(Update(rows))
            state.notify()
        return outcomes

    # -- the in-process API (by ARN) -----------------------------------------------------------

    def arn_exists(self, arn: str) -> bool:
        try:
            self.by_arn(arn)
        except QueueDoesNotExistError:
            return False
        return True

    def describe(self, arn: str) -> QueueInfo:
        state = self.by_arn(arn)
        return QueueInfo(state.arn, state.url, state.name, state.fifo, state.visibility_timeout,
                         state.redrive)  # fmt: skip

    async def send(
        self, arn: str, body: str, *, message_attributes: dict[str, dict[str, Any]] | None = None,
        system_attributes: dict[str, dict[str, Any]] | None = None, group_id: str | None = None,
        dedup_id: str | None = None, delay: int = 0,
    ) -> str:  # fmt: skip
        """Send one message; its id, once it is durable."""
        state = self.by_arn(arn)
        prepared = self.prepare(
            state, body, delay=delay or None, attributes=message_attributes,
            system=system_attributes, group_id=group_id, dedup_id=dedup_id,
        )  # fmt: skip
        (sent,) = await self.commit_sends(state, [prepared])
        return sent.message_id

    async def receive(
        self, arn: str, *, max_messages: int, visibility_timeout: int | None = None,
        wait_seconds: float = 0.0,
    ) -> list[Received]:  # fmt: skip
        if max_messages < 1:
            raise invalid_value("MaxNumberOfMessages", max_messages, "Must be at least 1.")
        return await self.receive_messages(
            self.naming.name_of_arn(arn), limit=max_messages, visibility=visibility_timeout,
            wait=wait_seconds,
        )  # fmt: skip

    async def delete(self, arn: str, receipt_handle: str) -> None:
        (outcome,) = await self.delete_messages(self.naming.name_of_arn(arn), [receipt_handle])
        if outcome is not None:
            raise outcome

    async def delete_batch(self, arn: str, receipt_handles: list[str]) -> None:
        """Delete these messages (handles that are invalid or stale are skipped)."""
        await self.delete_messages(self.naming.name_of_arn(arn), receipt_handles)

    async def change_visibility(
        self, arn: str, receipt_handle: str, timeout: int  # noqa: ASYNC109 - visibility, not a deadline
    ) -> None:  # fmt: skip
        name = self.naming.name_of_arn(arn)
        (outcome,) = await self.change_visibilities(name, [(receipt_handle, timeout)])
        if outcome is not None:
            raise outcome

    def backlog(self, arn: str) -> int:
        """ApproximateNumberOfMessages: the visible messages."""
        return self.by_arn(arn).counts(self._clock.wall())[0]


def _check_tags(tags: Mapping[str, str], kept: int) -> None:
    if kept + len(tags) > MAX_TAGS:
        raise QueueInvalidParameterError(
            f"Too many tags added for queue. Maximum tag count is {MAX_TAGS}."
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or len(str(value)) > 256:
            raise QueueInvalidParameterError("Tag keys must be between 1 and 128 characters in "
                                             "length, values at most 256.")  # fmt: skip
