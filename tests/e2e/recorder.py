"""A function that records every invocation it gets, for tests of asynchronous delivery.

Each invocation appends one JSON line (time, request id, event, client context's custom
map, invoked ARN) to RECORD_DIR/<function name>.jsonl with a single O_APPEND write, so
concurrent environments never interleave lines. An event {"fail": true} then raises
(unless the function is a sink: FAIL_ON_FLAG=0, as a dead-letter function receiving such
an event must not). SLEEP_MS makes each invocation take that long first.

The function writes straight to a host folder, which a bubblewrap sandbox hides (its
root is read-only and /tmp private): servers running recorders start with ISOLATION
(`--isolation none`) until the sandbox can bind-mount a writable test folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e.apicalls import deploy

# `ember serve` arguments that let a recorder reach RECORD_DIR.
ISOLATION = ("--isolation", "none")

RECORDER = """
import json, os, time

def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP_MS", "0")) / 1000)
    custom = context.client_context.custom if context.client_context else None
    line = json.dumps({
        "t": time.time(),
        "request_id": context.aws_request_id,
        "event": event,
        "custom": custom,
        "invoked_arn": context.invoked_function_arn,
    }) + "\\n"
    path = os.path.join(os.environ["RECORD_DIR"], context.function_name + ".jsonl")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    if os.environ["FAIL_ON_FLAG"] == "1" and isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("poison " + str(event.get("id")))
    return {"seen": event}
"""


def create_recorder(
    lam: Any,
    name: str,
    record_dir: Path,
    sleep_ms: float = 0,
    *,
    sink: bool = False,
    **kwargs: Any,
) -> str:
    """Create a recording function (Active on return); returns its ARN. A `sink` records
    and succeeds whatever it gets."""
    variables = {
        "RECORD_DIR": str(record_dir),
        "SLEEP_MS": str(sleep_ms),
        "FAIL_ON_FLAG": "0" if sink else "1",
    }
    config = deploy(lam, name, {"app.py": RECORDER}, Environment={"Variables": variables}, **kwargs)
    arn: str = config["FunctionArn"]
    return arn


def records(record_dir: Path, name: str) -> list[dict[str, Any]]:
    """Every complete line the function `name` has written so far."""
    return list(_lines(record_dir / f"{name}.jsonl"))


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    for line in data.split(b"\n"):
        if line.strip():
            yield json.loads(line)


def count_lines(path: Path) -> int:
    """Lines written so far, without parsing them (cheap enough to poll)."""
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


__all__ = ["RECORDER", "count_lines", "create_recorder", "records"]
