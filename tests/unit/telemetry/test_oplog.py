"""Ember's operational log: levelled, and one JSON object a line when asked."""

from __future__ import annotations

import json
import logging

import pytest

from ember.telemetry import oplog


def test_json_lines_carry_time_level_logger_message(capsys: pytest.CaptureFixture[str]) -> None:
    oplog.configure("info", "json")
    try:
        logging.getLogger("ember.queues").info("queue %s recovered", "jobs")
        logging.getLogger("ember.queues").debug("not at info")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("ember.api").exception("failed")
    finally:
        oplog.configure()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["level"], d["logger"], d["message"]) for d in lines] == [
        ("INFO", "ember.queues", "queue jobs recovered"),
        ("ERROR", "ember.api", "failed"),
    ]
    assert lines[0]["time"].endswith("Z")
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_is_levelled(capsys: pytest.CaptureFixture[str]) -> None:
    oplog.configure("warning", "text")
    logging.getLogger("ember.server").info("hidden")
    logging.getLogger("ember.server").warning("shown")
    assert capsys.readouterr().err == "ember: WARNING ember.server: shown\n"
