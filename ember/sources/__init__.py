"""Event source mappings at work: pollers that take records from a source (an SQS queue
today; a shard-ordered stream fits the same `Source` protocol), batch and filter them,
invoke the function synchronously and acknowledge what it processed.

Owns: one poller per enabled mapping, its workers and their scaling, Lambda's rules for
batches (partial failures, throttles, FIFO order). Reads mappings from `control` and
reports their settled states back; invokes through `invoke`; reads queues through the
in-process `Queues` API. Must never import `api`.
"""

from ember.sources.pollers import Pollers
from ember.sources.source import Record, Source

__all__ = ["Pollers", "Record", "Source"]
