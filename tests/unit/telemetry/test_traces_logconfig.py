"""Trace headers as Lambda makes them, LoggingConfig's rules, platform records by format and
level, and Telemetry API subscription checks and batching (pure logic)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ember.clock import ManualClock
from ember.control import logconfig
from ember.errors import InvalidParameterValueError
from ember.runtime_api.telemetry import SubscriptionRejectedError, _parse, _take
from ember.telemetry.appfilter import LevelFilter
from ember.telemetry.platform import PlatformLog
from ember.telemetry.traces import TraceContext, trace_header

RID = "3fd6b841-10b1-4f51-aa14-db346bade6c9"
HEX = RID.replace("-", "")
INCOMING = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_a_trace_started_here_takes_the_request_ids_digits() -> None:
    header = trace_header(RID, 0x5E1B4151, None, active=False)
    assert header == f"Root=1-5e1b4151-{HEX[:24]};Parent={HEX[16:32]};Sampled=0"
    assert trace_header(RID, 0x5E1B4151, "garbage", active=True).endswith("Sampled=1")


def test_an_incoming_header_is_kept_or_continued() -> None:
    assert trace_header(RID, 0, INCOMING, active=False) == INCOMING
    assert trace_header(RID, 0, INCOMING, active=True) == (
        f"Root=1-5759e988-bd862e3fe1be46a994272793;Parent={HEX[16:32]};Sampled=1"
    )
    unsampled = INCOMING.replace("Sampled=1", "Sampled=0")
    assert trace_header(RID, 0, unsampled, active=True).endswith("Sampled=0")
    no_parent = "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert trace_header(RID, 0, no_parent, active=False) == (
        f"{no_parent};Parent={HEX[16:32]};Sampled=0"
    )


def test_trace_context_in_opentelemetrys_terms() -> None:
    ids = TraceContext.parse(INCOMING)
    assert ids is not None
    assert f"{ids.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"
    assert f"{ids.parent_id:016x}" == "53995c3f42cd8ad8"
    assert ids.sampled
    assert TraceContext.parse("Root=1-xyz") is None


@pytest.mark.parametrize(
    ("old", "given", "expected"),
    [
        ({}, {"LogFormat": "JSON"}, {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                     "SystemLogLevel": "INFO"}),
        ({}, {"LogFormat": "Text"}, {}),
        ({}, {"LogGroup": "/aws/lambda/fn"}, {}),
        ({}, {"LogGroup": "custom"}, {"LogGroup": "custom"}),
        ({"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"},
         {"SystemLogLevel": "DEBUG"},
         {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "DEBUG"}),
        ({"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO"},
         {"LogFormat": "Text"}, {}),
    ],
)  # fmt: skip
def test_logging_config_resolves_as_aws(
    old: dict[str, str], given: dict[str, str], expected: dict[str, str]
) -> None:
    assert logconfig.resolve(old, given, "fn") == expected


def test_a_level_with_text_is_refused() -> None:
    with pytest.raises(InvalidParameterValueError, match="LogLevel is not supported"):
        logconfig.resolve({}, {"ApplicationLogLevel": "INFO"}, "fn")
    with pytest.raises(InvalidParameterValueError):
        logconfig.resolve(
            {"LogFormat": "JSON"}, {"LogFormat": "Text", "SystemLogLevel": "WARN"}, "f"
        )
    assert logconfig.shown({}, "fn") == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}


def _records(**options: Any) -> tuple[PlatformLog, list[str]]:
    lines: list[str] = []
    return PlatformLog(lines.append, ManualClock(), **options), lines


def test_text_platform_lines_and_xray_when_active() -> None:
    log, lines = _records(tracing_active=True)
    header = trace_header(RID, 0, None, active=True)
    log.start(RID, header)
    log.end(RID, duration_ms=1.5, status=None, produced_bytes=2)
    log.report(RID, 1.5, 128, 20, init_duration_ms=None, status=None, error_type=None,
               trace_header=header)  # fmt: skip
    assert lines[:2] == [f"START RequestId: {RID} Version: $LATEST", f"END RequestId: {RID}"]
    assert lines[2].endswith(
        f"\nXRAY TraceId: 1-00000000-{HEX[:24]}\tSegmentId: {HEX[16:32]}\tSampled: true\t"
    )


def test_json_platform_records_filtered_by_system_level() -> None:
    log, lines = _records(json_format=True, system_level="INFO", function_arn="arn:fn")
    log.start(RID, "")
    log.end(RID, duration_ms=1.5, status=None, produced_bytes=2)  # runtimeDone: DEBUG
    log.report(RID, 1.5, 128, 20, init_duration_ms=3.0, status=None, error_type=None,
               trace_header="")  # fmt: skip
    docs = [json.loads(line) for line in lines]
    assert [d["type"] for d in docs] == ["platform.start", "platform.report"]
    assert docs[0]["record"] == {"requestId": RID, "functionArn": "arn:fn", "version": "$LATEST"}
    assert docs[1]["record"]["metrics"] == {
        "durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 20,
        "initDurationMs": 3.0,
    }  # fmt: skip
    quiet, none = _records(json_format=True, system_level="WARN")
    quiet.start(RID, "")
    assert none == []


def test_subscriptions_are_checked_and_batches_cut() -> None:
    doc = {
        "types": ["platform"],
        "buffering": {"maxItems": 25, "maxBytes": 262_144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/t"},
    }
    subscriber = _parse("ext", json.dumps(doc).encode())
    assert (subscriber.host, subscriber.port, subscriber.path) == ("127.0.0.1", 4243, "/t")
    for bad in (
        {**doc, "types": ["metrics"]},
        {**doc, "buffering": {"maxItems": 24}},
        {**doc, "buffering": {"timeoutMs": 30_001}},
        {**doc, "destination": {"protocol": "TCP", "URI": "http://x:1"}},
    ):
        with pytest.raises(SubscriptionRejectedError):
            _parse("ext", json.dumps(bad).encode())
    subscriber.buffer = [b'{"n":%d}' % i for i in range(30)]
    subscriber.buffered_bytes = sum(len(b) for b in subscriber.buffer)
    assert len(json.loads(_take(subscriber))) == 25
    assert json.loads(_take(subscriber)) == [{"n": i} for i in range(25, 30)]
    assert subscriber.buffered_bytes == 0


def test_json_lines_below_the_application_level_are_dropped() -> None:
    keep = LevelFilter("WARN")
    lines = [
        "plain text",
        '{"level": "DEBUG", "message": "x"}',
        '{"level": "WARNING", "message": "y"}',
        '{"level": "error"}',
        '{"message": "no level"}',
        '{"level": "INFO"',  # not JSON: kept as text
    ]
    assert keep(lines) == [lines[0], lines[2], lines[3], lines[4], lines[5]]
