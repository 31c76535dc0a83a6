"""One environment's log: its stream, the output of its processes cut into lines, and the
tail an invocation asks for (LogType=Tail)."""

from __future__ import annotations

from collections.abc import Callable

from ember.telemetry import LogStore, LogStream

TAIL_BYTES = 4096


class EnvironmentLog:
    def __init__(self) -> None:
        self._stream: LogStream | None = None
        self._partial = b""  # output after the last newline
        self._tail: list[bytes] | None = None  # lines of the invocation asking for a tail

    def open(self, logs: LogStore, group: str, stream: str) -> None:
        self._stream = logs.open_stream(group, stream)

    def write(self, line: str) -> None:
        data = line if line.endswith("\n") else line + "\n"
        if self._stream is not None:
            self._stream.write(data)
        if self._tail is not None:
            self._tail.append(data.encode())

    def output(self, chunk: bytes) -> None:
        """Output of the environment's processes, as it arrives."""
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self.write(line.decode("utf-8", "replace") + "\n")

    def flush(self, drain: Callable[[], None] | None) -> None:
        """Everything written so far, including a last line without its newline."""
        if drain is not None:
            drain()
        if self._partial:
            partial, self._partial = self._partial, b""
            self.write(partial.decode("utf-8", "replace"))

    def start_tail(self, wanted: bool) -> None:
        self._tail = [] if wanted else None

    def take_tail(self) -> bytes:
        tail = b"".join(self._tail)[-TAIL_BYTES:] if self._tail is not None else b""
        self._tail = None
        return tail

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
