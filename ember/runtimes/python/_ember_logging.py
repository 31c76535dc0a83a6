"""What function code sees of logging and stdout, and how its unhandled errors are logged.

Part of Ember's Python runtime (see bootstrap.py): stdlib only, 3.8 syntax. Formats
follow awslambdaric: the root handler's text and JSON lines, and the `[ERROR]` record
of an unhandled exception.
"""

import json
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from logging import Formatter, LogRecord
    from types import ModuleType
    from typing import Any

# awslambdaric maps TRACE to DEBUG and leaves the level alone for names logging lacks.
_level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
LOG_LEVEL = {"TRACE": "DEBUG"}.get(_level, _level)
JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"

# Record attributes awslambdaric's JSON logs leave out; any other (`extra=`) becomes a field.
_RESERVED_FIELDS = frozenset(
    {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "_frame_type",
    }
)  # fmt: skip
_STDLIB = os.path.dirname(os.path.dirname(json.__file__))


class Invocation:
    """The invocation being handled, as log records are stamped with it."""

    request_id: "str | None" = None
    tenant_id: "str | None" = None


def setup_output() -> None:
    """Line-buffer stdout and stderr and configure logging once user code imports it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not stream.closed:
            # The server reads the pipes live; whole lines keep stdout and stderr apart.
            reconfigure(line_buffering=True)
    sys.meta_path.insert(0, _LoggingOnImport())


def log_error(error: "dict[str, Any]", encode: "Any") -> None:
    """Write an unhandled error (the payload posted to the Runtime API) to the log."""
    if JSON_LOGS:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        sys.stdout.write(encode({"timestamp": stamp, "level": "ERROR", **error}) + "\n")
        return
    line = "[ERROR]"
    if error["errorType"]:
        line += " " + error["errorType"]
    if error["errorMessage"]:
        line += (":" if error["errorType"] else "") + " " + error["errorMessage"]
    lines = [line, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        if element == "":
            lines.append("")
            continue
        for text in element.splitlines():
            # Leading spaces become NO-BREAK SPACEs so log viewers keep the indentation.
            stripped = text.lstrip(" ")
            lines.append("\u00a0" * (len(text) - len(stripped)) + stripped)
    # One log event for the whole trace: Lambda splits events on \n, not \r.
    sys.stdout.write("\r".join(lines) + "\n")


class _LoggingOnImport:
    """Meta path finder that configures the root logger as `logging` is first imported.

    Lambda's runtime installs its root handler before user code runs; importing logging
    up front would cost ~5 ms of every cold start, so it happens on user code's first
    import instead, which user code cannot tell apart.
    """

    def find_spec(
        self, fullname: str, path: "Any" = None, target: "Any" = None
    ) -> "ModuleSpec | None":
        if fullname != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        # The stdlib's logging, even if the task root has one: on Lambda it loads first.
        spec = PathFinder.find_spec(fullname, [_STDLIB])
        if spec is not None and spec.loader is not None:
            spec.loader = _ConfigureAfterExec(spec.loader)  # type: ignore[assignment]
        return spec


class _ConfigureAfterExec:
    """Wraps logging's loader: run the module, configure it, then step aside."""

    def __init__(self, loader: "Any") -> None:
        self._loader = loader

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: "ModuleType") -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        _configure_logging()

    def __getattr__(self, name: str) -> "Any":
        return getattr(self._loader, name)


def _configure_logging() -> None:
    """Lambda's root handler: every record to stdout, stamped with the request id."""
    import logging

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # sys.stdout looked up per record, as awslambdaric does (redirect_stdout works).
            sys.stdout.write(self.format(record))

    def stamp(record: logging.LogRecord) -> bool:
        record.aws_request_id = Invocation.request_id or ""
        record.tenant_id = Invocation.tenant_id
        return True

    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    if JSON_LOGS:
        handler.setFormatter(_json_formatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    root = logging.getLogger()
    if isinstance(logging.getLevelName(LOG_LEVEL), int):
        root.setLevel(LOG_LEVEL)
    handler.addFilter(stamp)
    root.addHandler(handler)


def _json_formatter() -> "Formatter":
    """awslambdaric's JsonFormatter, for `LoggingConfig.LogFormat=JSON`."""
    import logging
    import traceback
    from datetime import datetime, timezone

    class JsonFormatter(logging.Formatter):
        def format(self, record: "LogRecord") -> str:
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc = record.exc_info
            stamp = datetime.fromtimestamp(record.created, tz=timezone.utc)
            fields: dict[str, Any] = {
                "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "stackTrace": traceback.format_tb(exc[2]) if exc else None,
                "errorType": exc[0].__name__ if exc and exc[0] else None,
                "errorMessage": str(exc[1]) if exc else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
            }
            tenant_id = getattr(record, "tenant_id", None)
            if tenant_id is not None:
                fields["tenantId"] = tenant_id
            fields.update(
                (key, value)
                for key, value in record.__dict__.items()
                if key not in _RESERVED_FIELDS and key not in fields
            )
            return (
                json.dumps({k: v for k, v in fields.items() if v is not None}, ensure_ascii=False)
                + "\n"
            )

    return JsonFormatter()
