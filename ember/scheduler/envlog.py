"""One environment's log: its stream, the output of its processes cut into lines, and the
tail an invocation asks for (LogType=Tail). Telemetry does the cutting and the storing;
this joins them to the environment's life."""

from __future__ import annotations

from collections.abc import Callable

from ember.clock import Clock
from ember.runtime_api import RuntimeEndpoint
from ember.scheduler.spec import EnvironmentSpec
from ember.telemetry import LogStore, LogStream
from ember.telemetry.appfilter import LevelFilter
from ember.telemetry.output import OutputLines, Tail
from ember.telemetry.platform import PlatformLog


class EnvironmentLog:
    def __init__(self) -> None:
        self._stream: LogStream | None = None
        self._lines = OutputLines()
        self._tail: Tail | None = None  # kept while an invocation that wants it runs
        # Telemetry API subscribers to the environment's output, once one subscribed.
        self.on_lines: Callable[[list[str]], None] | None = None
        # LoggingConfig JSON with an ApplicationLogLevel: drops JSON lines below it.
        self.level_filter: Callable[[list[str]], list[str]] | None = None

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
        if lines and self.level_filter is not None:
            lines = self.level_filter(lines)
        if not lines:
            return
        if self._stream is not None:
            self._stream.write_lines(lines)
        if self._tail is not None:
            self._tail.add_lines(lines)
        if self.on_lines is not None:
            self.on_lines(lines)

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


def platform_log(
    spec: EnvironmentSpec, clock: Clock, output: EnvironmentLog, endpoint: RuntimeEndpoint
) -> PlatformLog:
    """The environment's platform records, as its LoggingConfig and TracingConfig want them;
    its Telemetry API starts receiving them (and the output) with the first subscription."""
    records = PlatformLog(
        output.write,
        clock,
        json_format=spec.log_format == "JSON",
        system_level=spec.system_log_level or "INFO",
        function_arn=spec.function_arn,
        version=spec.version,
        tracing_active=spec.tracing_mode == "Active",
    )
    if spec.log_format == "JSON" and spec.application_log_level not in ("", "TRACE"):
        output.level_filter = LevelFilter(spec.application_log_level)
    telemetry = endpoint.telemetry

    def subscribed(name: str, types: list[str]) -> None:
        records.listener = telemetry.platform
        output.on_lines = telemetry.function_lines
        records.subscribed(name, types)

    telemetry.on_subscribe = subscribed
    return records
