"""Thread bombs in several functions cannot use up the host's pids: all environments together
get a total (the pids.max of the cgroup above theirs, sandbox/host_pids.py). Shown on a server
started with a small total (the hidden `--pids-total`), so the host itself is never pressed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import create_function, run_server, wait_until
from tests.e2e.test_isolation import needs_cgroups

pytestmark = pytest.mark.e2e

TOTAL = 1500  # room for one environment's 1,024, not for two

BOMB = """
import threading
threading.stack_size(64 * 1024)
HELD = threading.Event()

def handler(event, context):
    threads = []
    while len(threads) < 5000:
        thread = threading.Thread(target=HELD.wait, daemon=True)
        try:
            thread.start()
        except RuntimeError:  # can't start new thread: EAGAIN from clone()
            break
        threads.append(thread)
    if event.get("release"):  # all gone before the environment is frozen
        HELD.set()
        for thread in threads:
            thread.join()
    return {"threads": len(threads)}
"""

VICTIM = """
def handler(event, context):
    return {"ok": True}
"""


def _total_of(pid: int) -> str:
    """pids.max of the server's group above its environments (cgroup v1, or v2)."""
    for mount in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        limit = mount / "ember" / str(pid) / "pids.max"
        if limit.exists():
            return limit.read_text().strip()
    raise AssertionError(f"no cgroup of server {pid}")


def _starts(lam: Any, name: str, answers: list[Any]) -> bool:
    result = lam.invoke(FunctionName=name, Payload=b"{}")
    answers.append(json.loads(result["Payload"].read()))
    return "FunctionError" not in result and answers[-1] == {"ok": True}


def _invoke(lam: Any, name: str, event: Any = None) -> Any:
    result = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, body
    return body


@needs_cgroups
def test_bombs_in_two_functions_stop_at_the_servers_total(tmp_path: Any) -> None:
    with run_server(tmp_path / "d", "--pids-total", str(TOTAL), "--idle-timeout", "120") as srv:
        assert _total_of(srv.process.pid) == str(TOTAL)
        lam = srv.client()
        create_function(lam, "bomb-a", BOMB, Timeout=60)
        create_function(lam, "bomb-b", BOMB, Timeout=60)
        # The first stops at its own pids.max (Lambda's 1,024) and keeps its threads.
        first = _invoke(lam, "bomb-a")["threads"]
        assert 900 < first < 1024, first
        # The second stops at what the total leaves it, far short of its own 1,024.
        second = _invoke(lam, "bomb-b", {"release": True})["threads"]
        assert 0 < second <= TOTAL - first, second
        # Ember is outside that total: it serves, and the host still forks.
        assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} >= {"bomb-a"}
        assert subprocess.run(["true"], check=False).returncode == 0
        # With the second's threads gone, another function starts beside the first bomb.
        create_function(lam, "after-bombs", VICTIM)
        answers: list[Any] = []
        try:
            wait_until(lambda: _starts(lam, "after-bombs", answers), limit=30)
        except AssertionError:
            raise AssertionError(answers[-3:]) from None
