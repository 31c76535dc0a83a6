"""One environment's log: its stream, the output of its processes cut into lines, and the
tail an invocation asks for (LogType=Tail). Telemetry does the cutting and the storing;
this joins them to the environment's life."""

from __future__ import annotations

from collections.abc import Callable

from ember.telemetry import LogStore, LogStream
from ember.telemetry.output import OutputLines, Tail


class EnvironmentLog:
    def __init__(self) -> None:
        self._stream: LogStream | None = None
        self._lines = OutputLines()
        self._tail: Tail | None = None  # kept while an invocation that wants it runs

    def open(self, logs: LogStore, group: str, stream: str) -> None:
        self._stream = logs.open_stream(group, stream)

    def write(self, line: str) -> None:
        """One line of Lambda's own (START, REPORT, ...)."""
        text = line if line.endswith("\n") else line + "\n"
        if self._stream is not None:
            self._stream.write(text)
        if self._tail is not None:
            self._tail.add_text(text)

    def output(self, chunk: bytes) -> None:
        """Output of the environment's processes, as it arrives."""
        lines = self._lines.feed(chunk)
        if not lines:
            return
        if self._stream is not None:
            self._stream.write_lines(lines)
        if self._tail is not None:
            self._tail.add_lines(lines)

    def flush(self, drain: Callable[[], None] | None) -> None:
        """Everything written so far, including a last line without its newline."""
        if drain is not None:
            drain()
        rest = self._lines.rest()
        if rest is not None:
            self.write(rest)

    def start_tail(self, wanted: bool) -> None:
        self._tail = Tail() if wanted else None

    def take_tail(self) -> bytes:
        tail = self._tail.take() if self._tail is not None else b""
        self._tail = None
        return tail

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
