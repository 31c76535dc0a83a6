"""Each environment is a sandbox with Lambda's resource model: what a function can see and
do, and the limits it runs under (bubblewrap namespaces, cgroups, the freezer, /tmp).

Every test here would fail on plain processes: the functions try exactly what the sandbox
forbids, and each limit is measured. Tests skip only where this host lacks the primitive
(`ember doctor` says which); CI's machine has them all (`make` installs bubblewrap).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests.e2e.barrier import running_barrier
from tests.e2e.harness import Server, create_function, make_zip, run_server, wait_until

pytestmark = pytest.mark.e2e


def _probe_host() -> tuple[bool, str, bool, str]:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return host.namespaces, host.bwrap_problem, host.tree is not None, host.cgroup_problem


NAMESPACES, NO_NAMESPACES, CGROUPS, NO_CGROUPS = _probe_host()
needs_sandbox = pytest.mark.skipif(not NAMESPACES, reason=f"no bubblewrap here: {NO_NAMESPACES}")
needs_cgroups = pytest.mark.skipif(not CGROUPS, reason=f"no writable cgroups here: {NO_CGROUPS}")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _invoke(lam: Any, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs)
    return resp, json.loads(resp["Payload"].read() or b"null")


def _running(stream: str) -> bool:
    """Whether a process of the environment with this log stream is still alive."""
    marker = f"AWS_LAMBDA_LOG_STREAM_NAME={stream}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server without isolation: the control that shows what the sandbox prevents."""
    root = tmp_path_factory.mktemp("plain")
    with run_server(root / "data", "--isolation", "none") as srv:
        yield srv


PROBE = """
import errno, os, shutil, subprocess

def _try(action):
    try:
        action()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def _read(path):
    with open(path, "rb") as f:
        f.read(1)

def _write_task():
    with open("/var/task/intruder", "w") as f:
        f.write("x")

def handler(event, context):
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    python3 = shutil.which("python3")
    return {
        "read": {p: _try(lambda p=p: _read(p)) for p in event["paths"]},
        "write_task": _try(_write_task),
        "root": os.path.exists("/root"),
        "home": os.path.exists("/home"),
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "cap_eff": status["CapEff"].strip(),
        "pids": [int(p) for p in os.listdir("/proc") if p.isdigit()],
        "python3": subprocess.run([python3, "-c", "print(6 * 7)"], capture_output=True,
                                  text=True).stdout.strip() if python3 else None,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
    }
"""


@needs_sandbox
def test_a_function_sees_only_its_own_sandbox(server: Server, lam: Any) -> None:
    other_zip = make_zip({"app.py": "SECRET = 1\ndef handler(e, c):\n    return 1\n"})
    other = _name("other")
    lam.create_function(
        FunctionName=other, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="app.handler", Code={"ZipFile": other_zip},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=other)
    database = server.data_dir / "ember.db"
    other_code = server.data_dir / "code" / hashlib.sha256(other_zip).hexdigest() / "app.py"
    assert database.is_file()
    assert other_code.is_file()
    name = _name("probe")
    create_function(lam, name, PROBE)
    resp, doc = _invoke(lam, name, {"paths": [str(database), str(other_code), "/etc/shadow"]})
    assert "FunctionError" not in resp, doc
    assert doc["read"] == {
        str(database): "ENOENT",
        str(other_code): "ENOENT",
        "/etc/shadow": "ENOENT",
    }
    assert doc["write_task"] in ("EROFS", "EACCES")
    assert doc["root"] is False
    assert doc["home"] is False
    assert doc["uid"] == doc["euid"] == 993  # Lambda's sbx_user1051, not root
    assert int(doc["cap_eff"], 16) == 0
    assert max(doc["pids"]) < 50  # its own PID namespace: the host's processes are not there
    assert doc["python3"] == "42"
    assert doc["task_root"] == "/var/task"


HOG = """
def handler(event, context):
    blocks = [bytearray(b"\\x01") * (1 << 20) for _ in range(event["mb"])]
    return {"mb": len(blocks), "stream": context.log_stream_name}
"""


@needs_cgroups
def test_memory_past_memory_size_is_killed_and_the_next_invoke_recovers(lam: Any) -> None:
    name = _name("hog")
    create_function(lam, name, HOG, MemorySize=128, Timeout=30)
    _, first = _invoke(lam, name, {"mb": 1})
    resp, doc = _invoke(lam, name, {"mb": 400})
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Runtime.OutOfMemory"
    assert doc["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    resp, after = _invoke(lam, name, {"mb": 1})
    assert "FunctionError" not in resp
    assert after["stream"] != first["stream"]  # a fresh environment


@needs_cgroups
def test_max_memory_used_comes_from_the_environments_peak(lam: Any) -> None:
    name = _name("peak")
    create_function(lam, name, HOG, MemorySize=512, Timeout=30)
    resp, _ = _invoke(lam, name, {"mb": 100}, LogType="Tail")
    report = base64.b64decode(resp["LogResult"]).decode()
    used = int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))  # type: ignore[union-attr]
    assert 100 <= used < 512


BOMB = """
import errno, os, time
def handler(event, context):
    children, error = 0, None
    while children < 5000:
        try:
            pid = os.fork()
        except OSError as exc:
            error = errno.errorcode.get(exc.errno)
            break
        if pid == 0:
            time.sleep(300)
            os._exit(0)
        children += 1
    return {"children": children, "error": error, "stream": context.log_stream_name}
"""


@needs_cgroups
def test_a_fork_bomb_is_contained(lam: Any) -> None:
    name = _name("bomb")
    create_function(lam, name, BOMB, MemorySize=2048, Timeout=60)
    resp, doc = _invoke(lam, name)
    assert "FunctionError" not in resp, doc
    assert doc["error"] == "EAGAIN"
    assert 900 < doc["children"] < 1024  # pids.max: Lambda's 1,024 processes and threads
    assert subprocess.run(["true"], check=False).returncode == 0  # the host still forks
    lam.delete_function(FunctionName=name)  # the environment and its 1,000 children go
    wait_until(lambda: not _running(doc["stream"]), limit=30)


BUSY = """
import time
def handler(event, context):
    wall, cpu = time.monotonic(), time.process_time()
    while time.monotonic() - wall < event["seconds"]:
        pass
    return time.process_time() - cpu
"""


@needs_cgroups
def test_cpu_is_proportional_to_memory(lam: Any) -> None:
    small, full = _name("cpu128"), _name("cpu1769")
    create_function(lam, small, BUSY, MemorySize=128, Timeout=30)
    create_function(lam, full, BUSY, MemorySize=1769, Timeout=30)
    _, cpu_small = _invoke(lam, small, {"seconds": 1.0})
    _, cpu_full = _invoke(lam, full, {"seconds": 1.0})
    # Lambda: 1,769 MB is one vCPU, 128 MB 1/13.8 of it. Machines are noisy: generous bands.
    assert 0.03 < cpu_small < 0.15, cpu_small
    assert cpu_full > 0.4, cpu_full
    assert 1 / 30 < cpu_small / cpu_full < 1 / 5, (cpu_small, cpu_full)


TICKER = """
import threading, time
COUNT = 0
def _tick():
    global COUNT
    while True:
        COUNT += 1
        time.sleep(0.001)
threading.Thread(target=_tick, daemon=True).start()
def handler(event, context):
    return COUNT
"""


PAUSE = """
import time
def handler(event, context):
    time.sleep(event["seconds"])  # work, elsewhere: the time the ticker spends idle
"""


def _ticks_while_idle(lam: Any) -> int:
    name, pause = _name("ticker"), _name("pause")
    create_function(lam, name, TICKER, MemorySize=1024)
    create_function(lam, pause, PAUSE)
    _invoke(lam, pause, {"seconds": 0})  # its cold start is not part of the idle time
    _, before = _invoke(lam, name)
    # Idle on purpose, for a second's work of another function (the test itself does not
    # sleep): what the background thread does between invocations.
    _invoke(lam, pause, {"seconds": 1.0})
    _, after = _invoke(lam, name)
    return int(after) - int(before)


@needs_cgroups
def test_a_background_thread_does_not_run_while_the_environment_is_frozen(lam: Any) -> None:
    assert _ticks_while_idle(lam) < 100


def test_unfrozen_the_same_thread_runs(plain: Server) -> None:
    """The control for the test above: without the freezer the counter advances."""
    assert _ticks_while_idle(plain.client()) > 300


FILL = """
import errno, os
def handler(event, context):
    written, chunk = 0, b"x" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as f:
            while written < event["limit_mb"]:
                f.write(chunk)
                f.flush()
                written += 1
    except OSError as exc:
        return {"mb": written, "error": errno.errorcode.get(exc.errno)}
    finally:
        if os.path.exists("/tmp/fill"):
            os.remove("/tmp/fill")
    return {"mb": written, "error": None}
"""


@needs_sandbox
def test_tmp_is_limited_to_ephemeral_storage(lam: Any) -> None:
    name = _name("fill")
    # /tmp's pages count as the function's memory: give it room to fill /tmp.
    create_function(lam, name, FILL, MemorySize=1536, Timeout=60, EphemeralStorage={"Size": 512})
    resp, doc = _invoke(lam, name, {"limit_mb": 2048})
    assert "FunctionError" not in resp, doc
    assert doc["error"] == "ENOSPC"
    assert 500 <= doc["mb"] <= 512


SHARE = """
import os, urllib.request
def handler(event, context):
    open("/tmp/" + context.aws_request_id, "w").close()
    urllib.request.urlopen(event["barrier"], timeout=90).read()  # both files exist now
    return sorted(os.listdir("/tmp"))
"""


@needs_sandbox
def test_tmp_is_never_shared_between_environments(lam: Any, host_service_port: int) -> None:
    name = _name("share")
    create_function(lam, name, SHARE)
    # The two invocations run at once (two environments): each returns only when both
    # have written their file.
    with running_barrier(host_service_port, 2) as url, ThreadPoolExecutor(2) as pool:
        seen = list(pool.map(lambda _: _invoke(lam, name, {"barrier": url})[1], range(2)))
    assert all(len(files) == 1 for files in seen), seen
    assert seen[0] != seen[1]
