"""The console's pure parts: the period a report covers, escaping in pages, the charts."""

from __future__ import annotations

import datetime

import pytest

from ember.console.charts import bars
from ember.console.html import e, table, tag
from ember.console.requests import browsable, configuration_fields, since_of
from ember.errors import InvalidParameterValueError

NOW = datetime.datetime(2026, 11, 28, 11, 30, tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("month", datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC).timestamp()),
        ("", datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC).timestamp()),
        ("90s", NOW - 90),
        ("2h", NOW - 7200),
        ("7d", NOW - 7 * 86400),
        ("2026-11-20", datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC).timestamp()),
        (
            "2026-11-20T10:00:00Z",
            datetime.datetime(2026, 11, 20, 10, tzinfo=datetime.UTC).timestamp(),
        ),
        ("1700000000", 1_700_000_000.0),
    ],
)
def test_since(text: str, expected: float) -> None:
    assert since_of(text, NOW) == expected


def test_since_refuses_what_it_cannot_read() -> None:
    with pytest.raises(InvalidParameterValueError):
        since_of("last tuesday", NOW)


def test_values_are_escaped_once() -> None:
    assert e("<b>&'\"") == "&lt;b&gt;&amp;&#x27;&quot;"
    assert (
        tag("a", "<x>", href='/f?a=1&b="2"') == '<a href="/f?a=1&amp;b=&quot;2&quot;">&lt;x&gt;</a>'
    )
    nested = tag("p", tag("em", "<i>"))
    assert nested == "<p><em>&lt;i&gt;</em></p>"
    assert "<td>&lt;script&gt;</td>" in table(["h"], [["<script>"]])


def test_charts_say_what_they_show() -> None:
    chart = bars("Invocations", [None, 2.0, 3.0])
    assert 'aria-label="Invocations: peak 3, total 5 over 3 minutes"' in chart
    assert chart.count("<rect") == 2
    empty = bars("Duration p99", [None, None], " ms", summed=False)
    assert "no data in the last 2 minutes" in empty


def test_configuration_form_fields() -> None:
    fields = configuration_fields(
        {"memory": "512", "timeout": "9", "environment": "A=1\n\nB=x=y\n"}
    )
    assert fields == {
        "memory_size": 512,
        "timeout": 9,
        "environment": {"A": "1", "B": "x=y"},
        "environment_given": True,
    }
    with pytest.raises(InvalidParameterValueError, match="line 1"):
        configuration_fields({"environment": "no equals sign"})
    with pytest.raises(InvalidParameterValueError):
        configuration_fields({"memory": "lots"})


def test_console_hosts() -> None:
    assert browsable("127.0.0.1", "127.0.0.1")
    assert browsable("localhost", "127.0.0.1")
    assert browsable("::1", "127.0.0.1")
    assert browsable("192.168.1.5", "0.0.0.0")
    assert browsable("ember.lan", "ember.lan")
    assert not browsable("attacker.example", "127.0.0.1")
