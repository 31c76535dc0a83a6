"""How an environment's failures read to the invoker: Lambda's error types and messages."""

from __future__ import annotations

import uuid

from ember.sandbox import describe_exit
from ember.scheduler.results import InvocationResult


def launch_failed(program: str) -> InvocationResult:
    """Lambda's words when a runtime has no usable bootstrap."""
    return InvocationResult.platform_error(
        "Runtime.InvalidEntrypoint",
        f"RequestId: {uuid.uuid4()} Error: Couldn't find valid bootstrap(s): [{program}]",
        init_duration_ms=0.0,
    )


def runtime_exited(
    request_id: str, returncode: int, out_of_memory: bool, version: str = "$LATEST"
) -> InvocationResult:
    """The runtime's process ended; a kill by the memory limit is Runtime.OutOfMemory."""
    return InvocationResult.platform_error(
        "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError",
        f"RequestId: {request_id} Error: {describe_exit(returncode)}",
        executed_version=version,
    )


def extension_crashed(status: int) -> InvocationResult:
    """An external extension exited during Init (the RIE's Extension.Crash)."""
    return InvocationResult.platform_error(
        "Extension.Crash", f"RequestId: {uuid.uuid4()} Error: exit status {status}"
    )


def extension_init_failed(name: str, error_type: str | None) -> InvocationResult:
    """An extension called /extension/init/error (the RIE's Extension.InitError)."""
    return InvocationResult.platform_error(
        "Extension.InitError",
        f"RequestId: {uuid.uuid4()} Error: Extension {name} failed to initialize: {error_type}",
    )


def init_timed_out(budget: float) -> InvocationResult:
    return InvocationResult.platform_error(
        "Sandbox.Timedout",
        f"RequestId: {uuid.uuid4()} Error: Init timed out after {budget:.2f} seconds",
    )


def invoke_timed_out(request_id: str, timeout: int, version: str) -> InvocationResult:
    return InvocationResult.platform_error(
        "Sandbox.Timedout",
        f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
        executed_version=version,
    )


def restore_timed_out(budget: float) -> InvocationResult:
    """SnapStart's after-restore hooks ran past the Restore phase's limit."""
    return InvocationResult.platform_error(
        "SnapStartTimeoutException",
        f"RequestId: {uuid.uuid4()} Error: Restore timed out after {budget:.2f} seconds",
    )
