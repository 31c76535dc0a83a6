"""A function flooding its output cannot freeze the server (issue 8, hole 4): other
invocations go on while it floods, its stored log stays within the per-function cap, and a
line longer than 256 KB is cut as CloudWatch Logs cuts it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, create_function, run_server, wait_until

LIMIT_MB = 2
FLOOD_SECONDS = 4
# Sequential invokes of another function that must return while the flood runs. With
# the loop stalled by the flood none returns until it ends; unstalled, hundreds do.
ENOUGH = 10

FLOODER = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    end = time.time() + event['seconds']\n"
    "    written = 0\n"
    "    while time.time() < end:\n"  # newlines and garbage, as fast as it can
    "        written += os.write(1, b'\\n' * 4096)\n"
    "        written += os.write(1, os.urandom(4096))\n"
    "    return written\n"
)
LONG_LINE = (
    "import sys\n"
    "def handler(event, context):\n"
    "    sys.stdout.write('a' * 300_000 + '\\n' + 'after\\n')\n"
    "    return 'ok'\n"
)


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("flood")
    with run_server(root / "data", "--function-log-limit", str(LIMIT_MB)) as server:
        yield server


def _stored(logs: Any, group: str) -> int:
    return sum(
        s["storedBytes"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
    )


def test_other_invocations_go_on_while_a_function_floods(capped: Server) -> None:
    lam, logs = capped.client(), capped.client("logs")
    flooder, other = f"flood-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    create_function(lam, flooder, FLOODER, Timeout=30)
    create_function(lam, other, "def handler(e, c):\n    return 1\n")
    lam.invoke(FunctionName=flooder, Payload=b'{"seconds": 0}')  # warm: it floods at once
    lam.invoke(FunctionName=other, Payload=b"{}")
    group = f"/aws/lambda/{flooder}"
    quiet = _stored(logs, group)

    flood: dict[str, Any] = {}

    def run_flood() -> None:
        response = capped.client().invoke(
            FunctionName=flooder, Payload=f'{{"seconds": {FLOOD_SECONDS}}}'.encode()
        )
        flood["ended"] = time.monotonic()
        flood["written"] = int(response["Payload"].read())

    thread = threading.Thread(target=run_flood)
    thread.start()
    try:
        # The flood has begun once its log grows (a stalled server answers only after it).
        wait_until(lambda: _stored(logs, group) > quiet + 256 * 1024, limit=30)
        returned = []
        while thread.is_alive():
            assert lam.invoke(FunctionName=other, Payload=b"{}")["Payload"].read() == b"1"
            returned.append(time.monotonic())
    finally:
        thread.join()
    during = [at for at in returned if at < flood["ended"]]
    assert len(during) >= ENOUGH, f"only {len(during)} invokes returned during the flood"

    # The flood wrote many times the cap; what is kept stays within it.
    limit = LIMIT_MB << 20
    assert flood["written"] > 2 * limit
    assert _stored(logs, group) <= limit
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["storedBytes"] <= limit
    # And so does the disk, once the writer has caught up (the other function's lines aside).
    beside = _stored(logs, f"/aws/lambda/{other}")
    logs_dir = Path(capped.data_dir, "logs")
    wait_until(lambda: sum(p.stat().st_size for p in logs_dir.rglob("*.jsonl")) <= limit + beside)


def test_a_300kb_line_is_cut_to_256kb(capped: Server) -> None:
    lam, logs = capped.client(), capped.client("logs")
    name = f"longline-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, LONG_LINE)
    lam.invoke(FunctionName=name, Payload=b"{}")
    group = f"/aws/lambda/{name}"
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
    messages = [e["message"] for e in events["events"]]
    long = [m for m in messages if m.startswith("aaa")]
    assert [len(m.encode()) for m in long] == [262_144]
    assert long[0] == "a" * 262_143 + "\n"
    assert messages[messages.index(long[0]) + 1] == "after\n"
