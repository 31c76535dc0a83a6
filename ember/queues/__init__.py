"""SQS-compatible queues: the resource model, durable messages, long polling, FIFO
ordering and deduplication, redrive to dead-letter queues, and SQS's JSON-protocol door.

Owns: `ember/queues/` and the data dir's `queues.db`. May import `store`, `protocols` and
the beside-files; never `api`, `invoke`, `control`, `sources` or `topics` (they use this).

The in-process API other packages rely on (event source mappings, SNS subscriptions,
asynchronous-invocation destinations), stable; queues are named by ARN:

    class Queues:
        def arn_exists(self, arn: str) -> bool
        def describe(self, arn: str) -> QueueInfo    # .arn .url .name .fifo
                                                    # .visibility_timeout .redrive
                                                    # (.dead_letter_arn, .max_receives) | None
        async def send(self, arn, body, *, message_attributes=None, system_attributes=None,
                       group_id=None, dedup_id=None, delay=0) -> str    # message id, durable
        async def receive(self, arn, *, max_messages, visibility_timeout=None,
                          wait_seconds=0.0) -> list[Received]   # returns once any are visible
        async def delete(self, arn, receipt_handle) -> None
        async def delete_batch(self, arn, receipt_handles) -> None   # bad handles skipped
        async def change_visibility(self, arn, receipt_handle, timeout) -> None
        def backlog(self, arn) -> int                # ApproximateNumberOfMessages (visible)

`Received`: message_id, receipt_handle, body, md5_of_body, attributes (system attributes,
all of them: ApproximateReceiveCount, SentTimestamp, SenderId,
ApproximateFirstReceiveTimestamp, and MessageGroupId, MessageDeduplicationId,
SequenceNumber, AWSTraceHeader, DeadLetterQueueSourceArn where they apply),
message_attributes (SQS's shape, binary values as base64 text), md5_of_message_attributes.
Errors are `QueueError`s (ember.queues.errors), e.g. QueueDoesNotExistError for an unknown
ARN.

Every change (a send, a receive's new visibility and receive count, a delete) is committed
to disk, in group commits shared by concurrent requests, before the call returns.
`Queues.run()` owns the committer and the retention sweep; the composition root runs it.
"""

from ember.queues.attributes import Redrive
from ember.queues.door import QueueDoor
from ember.queues.errors import QueueDoesNotExistError, QueueError
from ember.queues.model import QueueInfo, Received
from ember.queues.service import Queues

__all__ = [
    "QueueDoesNotExistError",
    "QueueDoor",
    "QueueError",
    "QueueInfo",
    "Queues",
    "Received",
    "Redrive",
]
