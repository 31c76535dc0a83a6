"""A process's output cut into log lines as it arrives, and the tail an invocation asks for
(LogType=Tail).

An event is at most 256 KB (262,144 bytes with its newline), the largest event CloudWatch
Logs takes from Lambda: a longer line keeps its first 262,143 bytes and the rest of it, up
to its newline, is dropped. Memory stays bounded whatever a function writes: at most one
line's worth waits for its newline.
"""

from __future__ import annotations

MAX_LINE = 262_144  # bytes of one log event, its newline included
_KEPT = MAX_LINE - 1  # bytes of a line kept before its newline
TAIL_BYTES = 4096  # LogType=Tail: the last 4 KB of the invocation's log


class OutputLines:
    """Bytes in, complete lines out (without their newline), in order."""

    def __init__(self) -> None:
        self._partial = b""  # output after the last newline (at most MAX_LINE bytes)
        self._cutting = False  # dropping the rest of a line that was cut

    def feed(self, chunk: bytes) -> list[str]:
        if self._cutting:
            end = chunk.find(b"\n")
            if end < 0:
                return []
            chunk = chunk[end + 1 :]
            self._cutting = False
        data = self._partial + chunk if self._partial else chunk
        head, newline, rest = data.rpartition(b"\n")
        if len(data) <= MAX_LINE:  # no complete line is too long: one decode, one split, in C
            self._partial = rest
            return head.decode("utf-8", "replace").split("\n") if newline else []
        lines = [_cut(line) for line in head.split(b"\n")] if newline else []
        if len(rest) > _KEPT:
            lines.append(_cut(rest))
            rest = b""
            self._cutting = True
        self._partial = rest
        return lines

    def rest(self) -> str | None:
        """The last line, still without its newline (the invocation's end flushes it)."""
        self._cutting = False  # a cut line ends with its invocation, newline or not
        if not self._partial:
            return None
        partial, self._partial = self._partial, b""
        return _cut(partial)


def _cut(line: bytes) -> str:
    if len(line) <= _KEPT:
        return line.decode("utf-8", "replace")
    # A character split at the cut is dropped rather than replaced, to stay within the cap.
    return line[:_KEPT].decode("utf-8", "ignore")


class Tail:
    """The last TAIL_BYTES of one invocation's log, kept while it runs."""

    def __init__(self) -> None:
        self._data = b""

    def add_text(self, text: str) -> None:
        self._keep(text.encode())

    def add_lines(self, lines: list[str]) -> None:
        # Only the lines that can reach the tail are encoded (a flood brings thousands).
        kept: list[str] = []
        size = 0
        for line in reversed(lines):
            kept.append(line[-TAIL_BYTES:])
            size += len(kept[-1]) + 1
            if size >= TAIL_BYTES:
                break
        kept.reverse()
        self._keep(("\n".join(kept) + "\n").encode())

    def _keep(self, data: bytes) -> None:
        self._data = (self._data + data)[-TAIL_BYTES:]

    def take(self) -> bytes:
        data, self._data = self._data, b""
        return data
