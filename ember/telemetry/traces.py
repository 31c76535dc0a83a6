"""X-Ray trace headers as Lambda hands them to a function (`Lambda-Runtime-Trace-Id`,
`_X_AMZN_TRACE_ID`), and the spans of one invocation that the OTLP exporter sends.

Lambda keeps an incoming `X-Amzn-Trace-Id`'s Root; without one it starts a trace. With
TracingConfig Active the invocation is sampled (unless the caller said Sampled=0) and the
function's segment is a new Parent; with PassThrough the header goes on as it came, or,
started here, unsampled.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Protocol

_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_SPAN = re.compile(r"[0-9a-f]{16}")


def trace_header(request_id: str, wall: float, incoming: str | None, active: bool) -> str:
    """The header the function sees. A trace Ember starts takes its 24 hex digits from the
    request id (recursion detection finds an invocation by them)."""
    hexed = request_id.replace("-", "")
    segment = hexed[16:32]
    fields = _fields(incoming) if incoming else {}
    root = fields.get("Root", "")
    if not _ROOT.fullmatch(root):
        sampled = "1" if active else "0"
        return f"Root=1-{int(wall):08x}-{hexed[:24]};Parent={segment};Sampled={sampled}"
    given = fields.get("Sampled")
    if active:
        return f"Root={root};Parent={segment};Sampled={'0' if given == '0' else '1'}"
    parent = fields.get("Parent", "")
    if not _SPAN.fullmatch(parent):
        parent = segment
    return f"Root={root};Parent={parent};Sampled={'1' if given == '1' else '0'}"


def _fields(header: str) -> dict[str, str]:
    pairs = (part.strip().split("=", 1) for part in header.split(";") if "=" in part)
    return {key: value for key, value in pairs}


@dataclasses.dataclass(frozen=True, slots=True)
class TraceContext:
    """The ids of a header in OpenTelemetry's terms."""

    trace_id: int  # 128 bits: the Root's 8 + 24 hex digits
    parent_id: int  # 64 bits: the function's segment (Parent)
    sampled: bool

    @classmethod
    def parse(cls, header: str) -> TraceContext | None:
        fields = _fields(header)
        root, parent = fields.get("Root", ""), fields.get("Parent", "")
        if not _ROOT.fullmatch(root) or not _SPAN.fullmatch(parent):
            return None
        return cls(
            int(root[2:].replace("-", ""), 16), int(parent, 16), fields.get("Sampled") == "1"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class InvocationSpans:
    """What one invocation took, for its spans: wall-clock seconds."""

    function_name: str
    version: str
    request_id: str
    header: str
    started: float  # the request arrived
    ended: float  # its response was ready
    init_ms: float | None  # a cold start's Init
    duration_ms: float  # the function's Invoke phase
    error_type: str | None
    active: bool  # TracingConfig Active: the request span is the function's segment


class SpanRecorder(Protocol):
    """Where the invoker hands each invocation's spans (telemetry.otlp.OtlpTracer)."""

    def record(self, spans: InvocationSpans) -> None: ...
