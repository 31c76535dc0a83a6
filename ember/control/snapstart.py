"""SnapStart's configuration rules: which functions may set `ApplyOn: PublishedVersions`,
and how a SnapStart version's state reads while its snapshot is prepared.

AWS accepts SnapStart for python3.12 and newer and for java11 and newer (and .NET 8, which
Ember does not run), refuses it with EphemeralStorage above 512 MB and on a version that
has provisioned concurrency. A published version of such a function is Pending until its
Init has run once (Ember then keeps environments of that version ready to resume), Active
after, Failed when that Init failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ember.errors import InvalidParameterValueError

APPLY_ON = ("PublishedVersions", "None")
# The runtimes AWS lets SnapStart on (its runtime list, 2026).
SUPPORTED_RUNTIMES = frozenset(
    {"python3.12", "python3.13", "python3.14", "java11", "java17", "java21", "java25",
     "dotnet8", "dotnet10"}
)  # fmt: skip
MAX_EPHEMERAL_STORAGE = 512  # MB

# The version's State while its Init runs, and when it failed.
PENDING_REASON = "Lambda is initializing your function. It will be ready to invoke shortly."
PENDING_CODE = "Creating"
FAILED_CODE = "FunctionError"
TIMEOUT_CODE = "FunctionError.InitTimeout"


def enabled(fields: Mapping[str, Any]) -> bool:
    return bool(fields.get("snap_start", "None") == "PublishedVersions")


def check(fields: Mapping[str, Any]) -> None:
    """A function's configuration (create's fields, or an update merged over the old)."""
    if not enabled(fields):
        return
    runtime = fields.get("runtime")
    if runtime is None or runtime not in SUPPORTED_RUNTIMES:
        raise InvalidParameterValueError(
            f"{runtime or 'The function runtime'} is not supported for SnapStart enabled functions."
        )
    if fields.get("ephemeral_storage", MAX_EPHEMERAL_STORAGE) > MAX_EPHEMERAL_STORAGE:
        raise InvalidParameterValueError(
            f"SnapStart is not supported for functions with ephemeral storage larger than "
            f"{MAX_EPHEMERAL_STORAGE} MB."
        )


def check_provisioned(fields: Mapping[str, Any]) -> None:
    """PutProvisionedConcurrencyConfig on a version (or an alias's version) with SnapStart."""
    if enabled(fields) and fields.get("version", "$LATEST") != "$LATEST":
        raise InvalidParameterValueError(
            "Provisioned Concurrency Configs cannot be applied to SnapStart enabled functions."
        )


def failed_reason(error_type: str | None, message: str) -> tuple[str, str]:
    """(StateReasonCode, StateReason) of a version whose SnapStart Init failed."""
    code = TIMEOUT_CODE if error_type == "Sandbox.Timedout" else FAILED_CODE
    reason = f"Init error during snapshot creation: {error_type or 'Runtime.Unknown'}"
    if message:
        reason += f": {message}"
    return code, reason[:1000]
