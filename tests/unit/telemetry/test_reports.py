"""Lambda's platform lines, byte for byte as Lambda writes them into a log stream."""

from __future__ import annotations

from ember.telemetry import reports


def test_extension_lines_match_lambdas() -> None:
    assert (
        reports.extension_ready("recorder", {"SHUTDOWN", "INVOKE"})
        == "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE, SHUTDOWN]"
    )
    assert (
        reports.extension_init_error("broken", "Extension.Crash")
        == "EXTENSION\tName: broken\tState: InitError\tError Type: Extension.Crash"
    )
