"""Recursive loop detection, as Lambda's: a chain function → queue/topic → function → … is
stopped at its 16th hop (the event dropped, a log line) unless the function's RecursiveLoop
is Allow (ember/control/recursion.py).

How the hop count travels (Lambda carries it in the X-Ray trace header): every invocation's
trace header, which the function sees as `_X_AMZN_TRACE_ID`, is
`Root=1-<8 hex>-<24 hex>;…`, the 24 hex being the start of its request id. botocore in the
function sends it as `X-Amzn-Trace-Id` on each SQS and SNS call; the queue keeps it as the
message's AWSTraceHeader; whoever invokes a function for such messages (event source
mappings, topic subscriptions, destinations) asks `start()` for the request id to invoke
with. The guard remembers each request id's hop count (the last `capacity` of them, in
memory: after a restart a loop starts counting again).
"""

from __future__ import annotations

import collections
import logging
import re
import uuid
from collections.abc import Iterable

from ember.control.recursion import RecursionConfigs, RecursiveLoop

log = logging.getLogger("ember.invoke.recursion")

MAX_HOPS = 16  # Lambda stops a loop after about 16 invocations
CAPACITY = 65_536  # request ids whose hop count is remembered
_ROOT = re.compile(r"Root=1-[0-9a-fA-F]{8}-(?P<id>[0-9a-fA-F]{24})")


def trace_key(request_id: str) -> str:
    """The part of an invocation's trace header that names it: its request id's 24 hex."""
    return request_id.replace("-", "")[:24].lower()


def trace_header(request_id: str, wall: float) -> str:
    """The trace header of the invocation `request_id`, as Lambda writes one (for messages
    Ember itself sends on that invocation's behalf: destination records, dead letters)."""
    hexed = request_id.replace("-", "")
    return f"Root=1-{int(wall):08x}-{hexed[:24]};Parent={hexed[16:32]};Sampled=0"


class RecursionGuard:
    def __init__(self, configs: RecursionConfigs, capacity: int = CAPACITY) -> None:
        self._configs = configs
        self._capacity = capacity
        self._hops: collections.OrderedDict[str, int] = collections.OrderedDict()

    def hop_of(self, header: str | None) -> int | None:
        """The hop count of the invocation whose trace header this is (0 for one Ember
        does not remember: a caller's own invocation), None without a trace header."""
        if not header:
            return None
        found = _ROOT.search(header)
        if found is None:
            return None
        return self._hops.get(found["id"].lower(), 0)

    def start(self, function: str, trace_headers: Iterable[str | None]) -> str | None:
        """The request id to invoke `function` with, for an event made of messages that
        carry these trace headers; None when the event must be dropped (its 16th hop, and
        the function's RecursiveLoop is Terminate)."""
        hops = [h for h in (self.hop_of(header) for header in trace_headers) if h is not None]
        hop = max(hops) + 1 if hops else 0
        if hop >= MAX_HOPS and self._configs.loop_of(function) is RecursiveLoop.TERMINATE:
            log.warning(
                "recursive loop: %s was invoked %d times in a chain of queues and topics; "
                "Lambda stops it here and so does Ember: the event is dropped "
                "(PutFunctionRecursionConfig RecursiveLoop=Allow lets it go on)",
                function,
                hop,
            )
            return None
        request_id = str(uuid.uuid4())
        self.remember(request_id, hop)
        return request_id

    def remember(self, request_id: str, hop: int) -> None:
        """`request_id`'s invocation is hop `hop` of its chain."""
        key = trace_key(request_id)
        self._hops[key] = hop
        self._hops.move_to_end(key)
        while len(self._hops) > self._capacity:
            self._hops.popitem(last=False)
