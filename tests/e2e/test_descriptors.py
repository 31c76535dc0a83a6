"""A server under a low open-file limit: it raises what it may, sizes what it holds from
it, and refuses what would not fit in Lambda's error shape instead of failing with EMFILE
(a plain-text 500 from whatever opened the next file)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import REPO, create_function, run_server

pytestmark = pytest.mark.e2e

NOFILE = 300  # soft and hard: room for (300 - 128 - 43 lent to connections) // 10 = 12 environments
CALLS = 40

CODE = """\
import time
def handler(event, context):
    time.sleep(event.get("work", 0))  # keeps the environment busy: the calls overlap
    return "done"
"""


def test_many_environments_under_a_low_open_file_limit(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", "--idle-timeout", "600", nofile=NOFILE) as server:
        lam = server.client(max_pool_connections=CALLS)
        create_function(lam, "wide", CODE, Timeout=30)
        answers: list[Any] = []
        start = threading.Barrier(CALLS)

        def call() -> None:
            start.wait()
            try:
                reply = lam.invoke(FunctionName="wide", Payload=json.dumps({"work": 5}))
                answers.append(json.loads(reply["Payload"].read()))
            except ClientError as exc:
                answers.append(exc.response)

        threads = [threading.Thread(target=call) for _ in range(CALLS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        served = [a for a in answers if a == "done"]
        refused = [a for a in answers if a != "done"]
        assert len(served) >= 10, [r for r in refused if "Error" not in r][:3] or refused[:1]
        assert refused, "40 overlapping calls should not fit in 300 descriptors"
        for response in refused:  # Lambda's shape, saying why, nothing else
            assert response["Error"]["Code"] == "TooManyRequestsException", response
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert "RLIMIT_NOFILE" in response["Error"]["Message"]
        # The server is whole: it answers, and never ran out of descriptors.
        reply = lam.invoke(FunctionName="wide", Payload=b"{}")
        assert json.loads(reply["Payload"].read()) == "done"
        assert "Too many open files" not in server.output()


def _low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))


def test_doctor_reports_the_open_file_limit() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ember", "doctor"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
        preexec_fn=_low_limit,
    )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if "open files:" in x)
    # What `ember serve` makes of it: the soft limit raised to the hard one, and the room
    # that leaves: a quarter of (4096 - 128) lent to connections, (4096 - 128 - 992) // 10
    # environments.
    assert "open files: 4096 (raised from 256) of at most 4096" in line, line
    assert "room for 297 environments, and 992 descriptors shared" in line, line
