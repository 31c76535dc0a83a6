"""Spans of sampled invocations exported over OTLP/HTTP (protobuf) to an OpenTelemetry
collector, with the OpenTelemetry SDK. Imported only when `ember serve --otlp-endpoint`
is given: without it, no SDK module is loaded and the invoke path records nothing.

One trace per invocation, with X-Ray's ids: the trace id is the header's Root (its 32 hex
digits), and with TracingConfig Active the request span's id is the function's segment
(the Parent the function sees, REPORT's SegmentId), so spans the function itself makes
under that parent join it. Its children are Lambda's phases: Init (a cold start),
Invoke, and Overhead (from the function's response to the request's end). The SDK's
batch processor sends from its own thread; `close()` flushes it.
"""

from __future__ import annotations

import secrets
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

from ember.telemetry.traces import InvocationSpans, TraceContext


class _GivenIds(IdGenerator):
    """Ids chosen per span by the exporter (X-Ray's), random when none is set."""

    def __init__(self) -> None:
        self.trace_id = 0
        self.span_id = 0

    def generate_span_id(self) -> int:
        given, self.span_id = self.span_id, 0
        return given or secrets.randbits(64) or 1

    def generate_trace_id(self) -> int:
        given, self.trace_id = self.trace_id, 0
        return given or secrets.randbits(128) or 1


class OtlpTracer:
    """Turns each sampled invocation into spans; used from the event loop only."""

    def __init__(self, endpoint: str, *, region: str) -> None:
        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"  # OTLP/HTTP's path for traces under the collector's base
        self._ids = _GivenIds()
        resource = Resource.create(
            {"service.name": "ember", "cloud.provider": "aws", "cloud.region": region}
        )
        self._provider = TracerProvider(resource=resource, id_generator=self._ids)
        self._processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=url), schedule_delay_millis=200
        )
        self._provider.add_span_processor(self._processor)
        self._tracer = self._provider.get_tracer("ember.lambda")

    def record(self, spans: InvocationSpans) -> None:
        ids = TraceContext.parse(spans.header)
        if ids is None or not ids.sampled:
            return  # Lambda sends segments of sampled invocations only
        start = int(spans.started * 1e9)
        end = max(start, int(spans.ended * 1e9))
        attributes: dict[str, Any] = {
            "faas.name": spans.function_name,
            "faas.version": spans.version,
            "faas.invocation_id": spans.request_id,
            "faas.coldstart": spans.init_ms is not None,
            "aws.xray.trace_header": spans.header,
        }
        context = None
        if spans.active:
            self._ids.trace_id, self._ids.span_id = ids.trace_id, ids.parent_id
        else:  # the caller's span is the parent
            remote = SpanContext(
                ids.trace_id, ids.parent_id, is_remote=True, trace_flags=trace.TraceFlags(1)
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        request = self._tracer.start_span(
            spans.function_name,
            context=context,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=start,
        )
        inner = trace.set_span_in_context(request)
        cursor = start
        if spans.init_ms is not None:
            cursor = self._phase("Init", inner, cursor, spans.init_ms)
        invoke_end = self._phase("Invoke", inner, cursor, spans.duration_ms)
        if end > invoke_end:
            self._tracer.start_span("Overhead", context=inner, start_time=invoke_end).end(end)
        if spans.error_type is not None:
            request.set_status(Status(StatusCode.ERROR, spans.error_type))
        request.end(max(end, invoke_end))

    def _phase(self, name: str, parent: Any, start: int, duration_ms: float) -> int:
        end = start + int(duration_ms * 1e6)
        self._tracer.start_span(name, context=parent, start_time=start).end(end)
        return end

    def close(self) -> None:
        """Send what is buffered (blocking: run it off the loop)."""
        self._provider.shutdown()
