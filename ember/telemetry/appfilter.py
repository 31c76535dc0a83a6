"""ApplicationLogLevel filtering of a function's JSON log lines, as Lambda applies it to
every runtime's output: a JSON object with a `level` below the configured one is dropped;
any other line (text, JSON without a level) is kept. Python's and Node's own names count
(WARNING is WARN, CRITICAL is FATAL)."""

from __future__ import annotations

import orjson

_RANK = {
    "TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "WARNING": 3, "ERROR": 4, "FATAL": 5,
    "CRITICAL": 5,
}  # fmt: skip


class LevelFilter:
    """Keeps the lines at `level` and above (one of ApplicationLogLevel's values)."""

    def __init__(self, level: str) -> None:
        self._least = _RANK.get(level.upper(), 0)

    def __call__(self, lines: list[str]) -> list[str]:
        return [line for line in lines if self._keeps(line)]

    def _keeps(self, line: str) -> bool:
        if not line.startswith("{") or '"level"' not in line:
            return True  # the common case costs two string checks
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return True
        level = doc.get("level") if isinstance(doc, dict) else None
        if not isinstance(level, str):
            return True
        return _RANK.get(level.upper(), _RANK["FATAL"]) >= self._least
