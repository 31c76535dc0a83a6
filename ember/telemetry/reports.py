"""The lines Lambda itself writes into a function's log stream around the function's own
output (its "platform" lines), in Lambda's plain-text format."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ember.clock import iso_millis


def start(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_memory_used_mb: int,
    *,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
    restore_duration_ms: float | None = None,
) -> str:
    """REPORT: durations (billed rounded up to the millisecond), memory, the Init duration
    of a cold start (SnapStart: the Restore duration of a resumed environment), and the
    status of an invocation that failed or timed out."""
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\t"
        f"Memory Size: {memory_size} MB\t"
        f"Max Memory Used: {max_memory_used_mb} MB\t"
    )
    if init_duration_ms is not None:
        line += f"Init Duration: {init_duration_ms:.2f} ms\t"
    if restore_duration_ms is not None:
        line += (
            f"Restore Duration: {restore_duration_ms:.2f} ms\t"
            f"Billed Restore Duration: {max(1, math.ceil(restore_duration_ms))} ms\t"
        )
    if status is not None:
        line += f"\tStatus: {status}"
        if error_type is not None:
            line += f"\tError Type: {error_type}"
    return line


def extension_ready(name: str, events: Iterable[str]) -> str:
    """EXTENSION of an extension that registered and waits in next: its events, sorted."""
    return f"EXTENSION\tName: {name}\tState: Ready\tEvents: [{', '.join(sorted(events))}]"


def extension_init_error(name: str, error_type: str | None) -> str:
    """EXTENSION of an extension whose Init failed (it reported an error or exited)."""
    return f"EXTENSION\tName: {name}\tState: InitError\tError Type: {error_type}"


def init_report(duration_ms: float, *, error_type: str | None, detail: str | None = None) -> str:
    """INIT_REPORT of a failed Init: timed out (Sandbox.Timedout) or failed with an error
    type, or with Ember's own `detail` when the runtime could not even be launched."""
    line = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: init\t"
    if detail is not None:
        return line + f"Status: error\t{detail}"
    if error_type == "Sandbox.Timedout":
        return line + "Status: timeout"
    return line + f"Status: error\tError Type: {error_type}"


def restore_report(duration_ms: float, *, error_type: str | None = None) -> str:
    """RESTORE_REPORT of SnapStart's Restore phase (after-restore hooks included)."""
    line = f"RESTORE_REPORT Restore Duration: {duration_ms:.2f} ms\t"
    if error_type is None:
        return line
    return line + f"Status: error\tError Type: {error_type}"


def timed_out(wall: float, request_id: str, timeout: float) -> str:
    """What Lambda logs when an invocation runs past its timeout."""
    return f"{iso_millis(wall)} {request_id} Task timed out after {timeout:.2f} seconds"
