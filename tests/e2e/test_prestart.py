"""Pre-started sandboxes (`ember serve --prestart N`): Python cold starts take a sandbox
that was started ahead of them, with the function's code, layers, variables and limits
given to it at the cold start.

What counts as served from the pool is read from outside: the function's
`PrestartedInits` counter in `/_ember/metrics/<name>`. Everything else is checked from
inside the functions.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests.e2e.harness import Server, create_function, make_zip, run_server, wait_until


def _problem() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    if not host.namespaces or host.identity is None:
        return host.bwrap_problem or "bubblewrap runs unprivileged here"
    return "" if host.tree is not None else host.cgroup_problem


PROBLEM = _problem()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(PROBLEM), reason=f"no pre-started sandboxes here: {PROBLEM}"),
]

PROBE = """
import json, os

SEEN = {"pid": os.getpid(), "cwd": os.getcwd()}

def _write():
    try:
        open("/var/task/intruder", "w").close()
        return "ok"
    except OSError as exc:
        return exc.strerror

def handler(event, context):
    if "secret" in event:
        with open("/tmp/secret", "w") as f:
            f.write(event["secret"])
    return {
        "task": sorted(os.listdir("/var/task")),
        "opt": sorted(os.listdir("/opt")),
        "tmp": sorted(os.listdir("/tmp")),
        "var": os.environ.get("PROBE_VAR"),
        "name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "memory": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "context_name": context.function_name,
        "uid": os.getuid(),
        "seen": SEEN,
        "write": _write(),
        "layer": open("/opt/python/layered.py").read() if os.path.exists("/opt/python/layered.py") else None,
    }
"""  # noqa: E501

HOG = """
def handler(event, context):
    hog = []
    for _ in range(event["mb"]):
        hog.append(bytearray(1 << 20))
    return len(hog)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("prestart")
    with run_server(root / "data", "--prestart", "2") as srv:
        lam = srv.client()
        # The first python3.11 cold start starts the pool of that runtime.
        create_function(lam, "warmup", PROBE, handler="app.handler")
        lam.invoke(FunctionName="warmup")
        yield srv


def _prestarted(server: Server, name: str) -> int:
    url = f"http://127.0.0.1:{server.port}/_ember/metrics/{name}"
    with urllib.request.urlopen(url) as response:
        return int(json.load(response)["Counters"].get("PrestartedInits", 0))


def _invoke(lam: Any, name: str, payload: Any = None) -> Any:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    return resp, json.loads(resp["Payload"].read())


def _served(server: Server, prefix: str, code: str | dict[str, str], **kwargs: Any) -> str:
    """A new function whose cold start was served from the pool (the pool refills in the
    background: a cold start that came too early made a fresh sandbox; try another)."""
    lam = server.client()
    names: list[str] = []

    def attempt() -> str | None:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        names.append(name)
        create_function(lam, name, code, **kwargs)
        lam.invoke(FunctionName=name, Payload=b'{"warm": true}')
        return name if _prestarted(server, name) == 1 else None

    name = wait_until(attempt, limit=60, interval=0.2)
    assert name, names
    return str(name)


def test_cold_start_served_with_the_functions_code_and_variables(server: Server) -> None:
    lam = server.client()
    files = {"pkg/__init__.py": "", "pkg/mod.py": PROBE}
    name = _served(
        server,
        "probe",
        files,
        handler="pkg/mod.handler",
        MemorySize=256,
        Environment={"Variables": {"PROBE_VAR": "value-1"}},
    )
    resp, doc = _invoke(lam, name)
    assert "FunctionError" not in resp, doc
    assert doc["task"] == ["pkg"]
    assert doc["var"] == "value-1"
    assert doc["name"] == doc["context_name"] == name
    assert doc["memory"] == "256"
    assert doc["uid"] == 993
    assert doc["seen"]["cwd"] == "/var/task"  # Init ran in the mounted code
    assert doc["write"] == "Read-only file system"
    assert doc["opt"] == []
    assert _prestarted(server, name) == 1  # one cold start; the second invoke was warm


def test_layers_are_mounted_at_opt(server: Server) -> None:
    lam = server.client()
    layer = lam.publish_layer_version(
        LayerName=f"layer-{uuid.uuid4().hex[:8]}",
        Content={"ZipFile": make_zip({"python/layered.py": "VALUE = 'from the layer'\n"})},
        CompatibleRuntimes=["python3.11"],
    )
    name = _served(server, "layered", PROBE, Layers=[layer["LayerVersionArn"]])
    _, doc = _invoke(lam, name)
    assert doc["opt"] == ["python"]
    assert doc["layer"] == "VALUE = 'from the layer'\n"
    assert doc["task"] == ["app.py"]


def test_two_functions_never_see_each_others_code_or_tmp(server: Server) -> None:
    lam = server.client()
    first = _served(server, "first", {"first.py": PROBE}, handler="first.handler")
    second = _served(server, "second", {"second.py": PROBE}, handler="second.handler")
    secret = uuid.uuid4().hex
    _, one = _invoke(lam, first, {"secret": secret})
    _, two = _invoke(lam, second)
    assert one["task"] == ["first.py"]
    assert two["task"] == ["second.py"]
    assert one["tmp"] == ["secret"]
    assert two["tmp"] == []


def test_the_functions_memory_size_applies(server: Server) -> None:
    lam = server.client()
    name = _served(server, "hog", HOG, MemorySize=128, Timeout=30)
    resp, doc = _invoke(lam, name, {"mb": 400})
    assert resp.get("FunctionError") == "Unhandled", doc
    assert doc["errorType"] == "Runtime.OutOfMemory"
    # A fresh environment after the kill; within the limit it answers.
    _, count = _invoke(lam, name, {"mb": 16})
    assert count == 16


def test_the_pool_is_refilled(server: Server) -> None:
    """More cold starts served one after another than the pool holds at once."""
    names = [_served(server, "refill", PROBE) for _ in range(4)]
    assert all(_prestarted(server, n) == 1 for n in names)


def test_functions_that_do_not_fit_start_fresh(server: Server) -> None:
    lam = server.client()
    name = f"big-tmp-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, PROBE, EphemeralStorage={"Size": 1024})
    resp, doc = _invoke(lam, name)
    assert "FunctionError" not in resp, doc
    assert _prestarted(server, name) == 0
    name = f"pythonpath-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, PROBE, Environment={"Variables": {"PYTHONPATH": "/var/task"}})
    resp, doc = _invoke(lam, name)
    assert "FunctionError" not in resp, doc
    assert _prestarted(server, name) == 0


def test_nothing_is_left_after_shutdown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data, "--prestart", "2") as srv:
        lam = srv.client()
        create_function(lam, "one", PROBE)
        lam.invoke(FunctionName="one")
        server_pid = srv.process.pid
        slots = data / "sandbox" / "prestart" / str(server_pid)
        wait_until(lambda: len(list(slots.iterdir())) >= 2, limit=30)  # two ready
    assert str(data) not in Path("/proc/self/mountinfo").read_text()
    leftovers = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(data) not in leftovers.stdout
    assert not slots.exists() or not list(slots.iterdir())
    for controller in ("memory", "pids", "freezer", "cpu"):
        assert not Path(f"/sys/fs/cgroup/{controller}/ember/{server_pid}").exists()
