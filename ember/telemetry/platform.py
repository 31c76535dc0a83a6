"""The records Lambda writes about an environment's life ("platform" events): into its log
as text lines (START, END, REPORT, ...) or, with LoggingConfig.LogFormat JSON, as JSON
objects filtered by SystemLogLevel; and handed to Telemetry API subscribers.

Text format and no subscriber (the default) costs what writing the text lines costs: no
record is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ember.clock import Clock, iso_millis
from ember.telemetry import reports

# What a listener gets: (event type, record). The Telemetry API turns it into its shape.
Listener = Callable[[str, dict[str, Any]], None]

# SystemLogLevel filtering: each platform event's own level (Lambda's table).
_LEVELS = {"DEBUG": 0, "INFO": 1, "WARN": 2}
_EVENT_LEVEL = {
    "platform.initStart": 1,
    "platform.initRuntimeDone": 0,
    "platform.initReport": 1,
    "platform.start": 1,
    "platform.runtimeDone": 0,
    "platform.report": 1,
    "platform.extension": 1,
    "platform.telemetrySubscription": 1,
    "platform.logsDropped": 2,
}


class Trace:
    """The X-Ray header of a sampled invocation of an Active function: REPORT's XRAY part."""

    __slots__ = ("root", "sampled", "segment", "value")

    def __init__(self, header: str) -> None:
        fields = dict(part.split("=", 1) for part in header.split(";") if "=" in part)
        self.value = header
        self.root = fields.get("Root", "")
        self.segment = fields.get("Parent", "")
        self.sampled = fields.get("Sampled") == "1"


class PlatformLog:
    """One environment's platform events, as its LoggingConfig wants them written."""

    def __init__(
        self,
        write: Callable[[str], None],
        clock: Clock,
        *,
        json_format: bool = False,
        system_level: str = "INFO",
        function_arn: str = "",
        version: str = "$LATEST",
        tracing_active: bool = False,
    ) -> None:
        self._write = write
        self._clock = clock
        self._json = json_format
        self._level = _LEVELS.get(system_level, 1)
        self._arn = function_arn
        self._version = version
        self._tracing = tracing_active
        self.listener: Listener | None = None  # Telemetry API subscribers, once any
        self._second = -1  # the wall-clock second _prefix formats
        self._prefix = ""

    def _emit(self, kind: str, record: dict[str, Any]) -> None:
        if self._json and _EVENT_LEVEL.get(kind, 1) >= self._level:
            stamp = self._stamp(self._clock.wall())
            self._write(orjson.dumps({"time": stamp, "type": kind, "record": record}).decode())
        if self.listener is not None:
            self.listener(kind, record)

    def _wants(self, kind: str) -> bool:
        """Whether a record of `kind` goes anywhere (else it is not even built)."""
        if self.listener is not None:
            return True
        return self._json and _EVENT_LEVEL.get(kind, 1) >= self._level

    def _stamp(self, wall: float) -> str:
        """iso_millis, with the formatted second kept (it costs ~3 µs a call)."""
        millis = int(wall * 1000)
        second = millis // 1000
        if second != self._second:
            self._second, self._prefix = second, iso_millis(second)[:-4]  # "…:SS."
        return f"{self._prefix}{millis % 1000:03d}Z"

    # -- Init -------------------------------------------------------------------------

    def init_start(self, initialization_type: str, function_name: str) -> None:
        if self._wants("platform.initStart"):
            record = {
                "initializationType": initialization_type,
                "phase": "init",
                "functionName": function_name,
                "functionVersion": self._version,
            }
            self._emit("platform.initStart", record)

    def init_done(self, initialization_type: str, duration_ms: float) -> None:
        """Init succeeded: initRuntimeDone and initReport (for subscribers and JSON logs)."""
        if self._wants("platform.initReport"):
            base = {"initializationType": initialization_type, "phase": "init"}
            self._emit("platform.initRuntimeDone", {**base, "status": "success"})
            metrics = {"durationMs": round(duration_ms, 3)}
            self._emit("platform.initReport", {**base, "status": "success", "metrics": metrics})

    def init_failed(
        self, duration_ms: float, *, error_type: str | None, detail: str | None = None
    ) -> None:
        if not self._json:
            self._write(reports.init_report(duration_ms, error_type=error_type, detail=detail))
        if self._wants("platform.initReport"):
            status = "timeout" if error_type == "Sandbox.Timedout" else "error"
            record: dict[str, Any] = {
                "initializationType": "on-demand",
                "phase": "init",
                "status": status,
                "metrics": {"durationMs": round(duration_ms, 3)},
            }
            if status == "error":
                record["errorType"] = error_type or "Runtime.Unknown"
            self._emit("platform.initReport", record)

    def restore_report(self, duration_ms: float, *, error_type: str | None = None) -> None:
        """SnapStart's Restore phase: RESTORE_REPORT, or platform.restoreReport."""
        if not self._json:
            self._write(reports.restore_report(duration_ms, error_type=error_type))
        if self._wants("platform.restoreReport"):
            record: dict[str, Any] = {
                "status": "success" if error_type is None else "error",
                "metrics": {"durationMs": round(duration_ms, 3)},
            }
            if error_type is not None:
                record["errorType"] = error_type
            self._emit("platform.restoreReport", record)

    def extension_ready(self, name: str, events: Iterable[str]) -> None:
        if not self._json:
            self._write(reports.extension_ready(name, events))
        if self._wants("platform.extension"):
            record = {"name": name, "state": "Ready", "events": sorted(events)}
            self._emit("platform.extension", record)

    def extension_init_error(self, name: str, error_type: str | None) -> None:
        if not self._json:
            self._write(reports.extension_init_error(name, error_type))
        if self._wants("platform.extension"):
            record = {"name": name, "state": "InitError", "errorType": error_type}
            self._emit("platform.extension", record)

    def subscribed(self, name: str, types: list[str]) -> None:
        """An extension subscribed to the Telemetry API."""
        record = {"name": name, "state": "Subscribed", "types": types}
        self._emit("platform.telemetrySubscription", record)

    # -- Invoke -----------------------------------------------------------------------

    def start(self, request_id: str, trace_header: str) -> None:
        if not self._json:
            self._write(reports.start(request_id, self._version))
        if self._wants("platform.start"):
            record: dict[str, Any] = {
                "requestId": request_id,
                "functionArn": self._arn,
                "version": self._version,
            }
            if self._tracing and trace_header:
                record["tracing"] = _tracing(Trace(trace_header))
            self._emit("platform.start", record)

    def timed_out(self, request_id: str, timeout: float) -> None:
        """Lambda's "Task timed out" line (both formats: it is the function's log line)."""
        self._write(reports.timed_out(self._clock.wall(), request_id, timeout))

    def end(
        self,
        request_id: str,
        *,
        duration_ms: float,
        status: str | None,
        produced_bytes: int,
        error_type: str | None = None,
    ) -> None:
        """The runtime is done: END (text), platform.runtimeDone (JSON at DEBUG, subscribers)."""
        if not self._json:
            self._write(reports.end(request_id))
        if self._wants("platform.runtimeDone"):
            record: dict[str, Any] = {
                "requestId": request_id,
                "status": status or "success",
                "metrics": {"durationMs": round(duration_ms, 3), "producedBytes": produced_bytes},
            }
            if error_type is not None and status is not None:
                record["errorType"] = error_type
            self._emit("platform.runtimeDone", record)

    def report(
        self,
        request_id: str,
        duration_ms: float,
        memory_size: int,
        max_memory_used_mb: int,
        *,
        init_duration_ms: float | None,
        status: str | None,
        error_type: str | None,
        trace_header: str,
        restore_duration_ms: float | None = None,
    ) -> None:
        trace = Trace(trace_header) if self._tracing and trace_header else None
        if not self._json:
            line = reports.report(
                request_id,
                duration_ms,
                memory_size,
                max_memory_used_mb,
                init_duration_ms=init_duration_ms,
                status=status,
                error_type=error_type,
                restore_duration_ms=restore_duration_ms,
            )
            if trace is not None and trace.sampled:
                line += f"\nXRAY TraceId: {trace.root}\tSegmentId: {trace.segment}\tSampled: true\t"
            self._write(line)
        if self._wants("platform.report"):
            metrics: dict[str, Any] = {
                "durationMs": round(duration_ms, 2),
                "billedDurationMs": max(1, math.ceil(duration_ms)),
                "memorySizeMB": memory_size,
                "maxMemoryUsedMB": max_memory_used_mb,
            }
            if init_duration_ms is not None:
                metrics["initDurationMs"] = round(init_duration_ms, 2)
            if restore_duration_ms is not None:
                metrics["restoreDurationMs"] = round(restore_duration_ms, 2)
            record: dict[str, Any] = {
                "requestId": request_id,
                "metrics": metrics,
                "status": status or "success",
            }
            if error_type is not None:
                record["errorType"] = error_type
            if trace is not None:
                record["tracing"] = _tracing(trace)
            self._emit("platform.report", record)


def _tracing(trace: Trace) -> dict[str, str]:
    return {"spanId": trace.segment, "type": "X-Amzn-Trace-Id", "value": trace.value}
