"""CloudWatch Logs' input rules: AWS's codes and wording."""

from __future__ import annotations

import pytest

from ember.api.logchecks import LogsError, check_events, check_names

NOW = 1_700_000_000_000


def test_names_report_every_violation() -> None:
    with pytest.raises(LogsError) as info:
        check_names({"logGroupName": "a b", "logStreamName": "x" * 513})
    assert info.value.code == "InvalidParameterException"
    assert info.value.message == (
        "2 validation errors detected: Value 'a b' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+; "
        f"Value '{'x' * 513}' at 'logStreamName' failed to satisfy constraint: Member must "
        "have length less than or equal to 512"
    )


def test_missing_members() -> None:
    with pytest.raises(LogsError) as info:
        check_names({})
    assert "Value null at 'logGroupName'" in info.value.message
    with pytest.raises(LogsError) as events:
        check_events({"logEvents": [{"timestamp": NOW}]}, NOW)
    assert "Value null at 'logEvents.1.member.message'" in events.value.message


def test_rejected_events_are_counted_as_aws_does() -> None:
    day = 86_400_000
    batch = check_events(
        {"logEvents": [
            {"timestamp": NOW - 20 * day, "message": "a"},
            {"timestamp": NOW - 15 * day, "message": "b"},
            {"timestamp": NOW, "message": "c"},
            {"timestamp": NOW + day, "message": "d"},
        ]},
        NOW,
    )  # fmt: skip
    assert batch.accepted == [(NOW, "c")]
    assert batch.rejected == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
