"""SnapStart for Python (python3.12 and newer): configuration as AWS validates it, Init once
at PublishVersion (Pending → Active, or Failed), and every new environment of the version
resuming from the ready state: after-restore hooks, `snap-start` initialization type, the
REPORT's Restore Duration, isolation as for any other environment.

What happens inside the environments is reported from the inside over TCP to a listener
on the host's loopback (`--host-access`); nothing here reads Ember's own state.
"""

from __future__ import annotations

import json
import socketserver
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import Server, create_function, function_host, run_server, wait_until

pytestmark = pytest.mark.e2e

# Reports each step to the listener as "<env id> <step>"; `wait` blocks until `parties`
# environments are there (a barrier: the invocations surely run in two environments).
HOOKS = """
import os, random, socket, uuid
from snapshot_restore_py import register_after_restore, register_before_snapshot

ENV_ID = uuid.uuid4().hex
ADDRESS = (os.environ["PROBE_HOST"], int(os.environ["PROBE_PORT"]))
STATE = {"init": "set in Init", "seen": []}


def say(*words):
    with socket.create_connection(ADDRESS) as conn, conn.makefile("rb") as answer:
        conn.sendall((" ".join([ENV_ID, *map(str, words)]) + "\\n").encode())
        return answer.readline().decode().strip()


say("init", os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"))
if os.environ.get("FAIL_INIT"):
    raise RuntimeError("Init failed on purpose")


@register_before_snapshot
def first_before():
    say("before", "first")


def second_before(word):
    say("before", word)


register_before_snapshot(second_before, "second")


@register_after_restore
def first_after():
    say("after", "first")


register_after_restore(lambda: say("after", "second"))


def _descriptors():
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink("/proc/self/fd/" + fd))
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return sorted(targets)


def handler(event, context):
    STATE["seen"].append(context.aws_request_id)
    if event.get("parties"):
        say("wait", event["parties"])
    open("/tmp/" + context.aws_request_id, "w").close()
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {
        "env": ENV_ID,
        "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "state": STATE["init"],
        "seen": len(STATE["seen"]),
        "random": random.random(),
        "tmp": sorted(os.listdir("/tmp")),
        "uid": os.getuid(),
        "cap_eff": status["CapEff"].strip(),
        "pids": [int(p) for p in os.listdir("/proc") if p.isdigit()],
        "task_writable": os.access("/var/task", os.W_OK),
        "data_dir": os.path.exists(event.get("data_dir", "/nonexistent")),
        "cgroup": open("/proc/self/cgroup").read(),
        "token": os.environ.get("AWS_SESSION_TOKEN"),
        "fds": _descriptors(),
    }
"""


class Listener:
    """What the environments said, in order, and a barrier for `wait N`."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []  # (env id, step)
        self._lock = threading.Condition()

    def steps(self, env: str | None = None) -> list[str]:
        with self._lock:
            return [step for who, step in self.lines if env is None or who == env]

    def envs(self) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(who for who, _ in self.lines))

    def _say(self, env: str, step: str) -> str:
        with self._lock:
            self.lines.append((env, step))
            self._lock.notify_all()
            if step.startswith("wait "):
                parties = int(step.split()[1])
                self._lock.wait_for(
                    lambda: sum(1 for _, s in self.lines if s == step) >= parties, timeout=60
                )
        return "ok"


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline().decode().strip()
        env, _, step = line.partition(" ")
        self.wfile.write(self.server.listener._say(env, step).encode() + b"\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    listener: Listener


@pytest.fixture(scope="module")
def listening() -> Iterator[tuple[Listener, int]]:
    tcp = _Server(("127.0.0.1", 0), _Handler)
    tcp.listener = Listener()
    thread = threading.Thread(target=tcp.serve_forever, daemon=True)
    thread.start()
    try:
        yield tcp.listener, tcp.server_address[1]
    finally:
        tcp.shutdown()
        tcp.server_close()


@pytest.fixture(scope="module")
def snap_server(
    tmp_path_factory: pytest.TempPathFactory, listening: tuple[Listener, int]
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("snapstart")
    with run_server(
        root / "data", "--host-access", str(listening[1]), "--idle-timeout", "60"
    ) as srv:
        yield srv


@pytest.fixture
def lam(snap_server: Server) -> Any:
    return snap_server.client()


@pytest.fixture
def listener(listening: tuple[Listener, int]) -> Listener:
    return listening[0]


def _variables(port: int, **extra: str) -> dict[str, Any]:
    return {"Variables": {"PROBE_HOST": function_host(), "PROBE_PORT": str(port), **extra}}


def _name() -> str:
    return f"snap-{uuid.uuid4().hex[:8]}"


def _publish(lam: Any, name: str) -> dict[str, Any]:
    version: dict[str, Any] = lam.publish_version(FunctionName=name)
    return version


def _wait_settled(lam: Any, name: str, number: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name, Qualifier=number)
        return None if config["State"] == "Pending" else config

    result: dict[str, Any] = wait_until(settled, limit=60, interval=0.1)
    return result


def _invoke(lam: Any, name: str, qualifier: str, payload: Any = None) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(
        FunctionName=name,
        Qualifier=qualifier,
        Payload=json.dumps(payload or {}).encode(),
        LogType="Tail",
    )
    return resp, json.loads(resp["Payload"].read() or b"null")


def _tail(resp: dict[str, Any]) -> str:
    import base64

    return base64.b64decode(resp["LogResult"]).decode()


def _snap_function(lam: Any, port: int, **extra: str) -> str:
    name = _name()
    create_function(
        lam,
        name,
        HOOKS,
        runtime="python3.12",
        Environment=_variables(port, **extra),
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    return name


def test_snapstart_is_validated_as_aws_does(lam: Any, listening: tuple[Listener, int]) -> None:
    with pytest.raises(ClientError) as refused:
        create_function(
            lam, _name(), HOOKS, runtime="python3.11", SnapStart={"ApplyOn": "PublishedVersions"}
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == (
        "python3.11 is not supported for SnapStart enabled functions."
    )
    with pytest.raises(ClientError) as refused:
        create_function(
            lam,
            _name(),
            HOOKS,
            runtime="python3.12",
            SnapStart={"ApplyOn": "PublishedVersions"},
            EphemeralStorage={"Size": 1024},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as refused:
        create_function(lam, _name(), HOOKS, runtime="python3.12", SnapStart={"ApplyOn": "Bad"})
    assert refused.value.response["Error"]["Code"] == "ValidationException"

    name = _name()
    create_function(lam, name, HOOKS, runtime="python3.12", Environment=_variables(listening[1]))
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"] == {
        "ApplyOn": "None",
        "OptimizationStatus": "Off",
    }
    updated = lam.update_function_configuration(
        FunctionName=name, SnapStart={"ApplyOn": "PublishedVersions"}
    )
    assert updated["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    version = _publish(lam, name)
    assert version["State"] == "Pending"
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert _wait_settled(lam, name, version["Version"])["State"] == "Active"
    with pytest.raises(ClientError) as refused:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version["Version"], ProvisionedConcurrentExecutions=1
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    # CreateFunction's Publish=True: version 1 goes through the same Pending → Active.
    published = _name()
    create_function(
        lam, published, HOOKS, runtime="python3.12", Publish=True,
        Environment=_variables(listening[1]), SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    assert wait_until(
        lambda: lam.list_versions_by_function(FunctionName=published)["Versions"][1:], limit=30
    )
    assert _wait_settled(lam, published, "1")["State"] == "Active"


def test_publish_runs_init_once_and_each_environment_resumes_with_its_hooks(
    lam: Any, listener: Listener, listening: tuple[Listener, int]
) -> None:
    name = _snap_function(lam, listening[1])
    before = set(listener.envs())
    version = _publish(lam, name)["Version"]
    assert _wait_settled(lam, name, version)["State"] == "Active"
    # Init and the before-snapshot hooks (last registered first) ran at publish.
    prepared = [env for env in listener.envs() if env not in before]
    assert len(prepared) == 1, listener.lines
    assert listener.steps(prepared[0]) == [
        "init snap-start",
        "before second",
        "before first",
    ]

    resp, doc = _invoke(lam, name, version, {"data_dir": "/nonexistent"})
    assert "FunctionError" not in resp, doc
    assert doc["env"] == prepared[0]
    assert doc["init"] == "snap-start"
    assert doc["state"] == "set in Init"
    assert listener.steps(prepared[0]) == [
        "init snap-start",
        "before second",
        "before first",
        "after first",
        "after second",
    ]
    report = next(line for line in _tail(resp).splitlines() if line.startswith("REPORT"))
    assert "Restore Duration:" in report
    assert "Init Duration" not in report
    # Warm afterwards: no second restore.
    resp, again = _invoke(lam, name, version)
    assert again["env"] == doc["env"]
    assert again["seen"] == 2
    assert "Restore Duration" not in _tail(resp)
    # $LATEST is not SnapStart's: a plain on-demand Init, no hooks.
    _, latest = _invoke(lam, name, "$LATEST")
    assert latest["init"] == "on-demand"
    assert listener.steps(latest["env"]) == ["init on-demand"]


def test_two_resumed_environments_share_no_state(
    lam: Any, listener: Listener, listening: tuple[Listener, int]
) -> None:
    name = _snap_function(lam, listening[1])
    version = _publish(lam, name)["Version"]
    assert _wait_settled(lam, name, version)["State"] == "Active"
    tag = uuid.uuid4().hex
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda _: _invoke(lam, name, version, {"parties": f"2-{tag}"}), range(2))
        )
    docs = [doc for _, doc in results]
    assert all("FunctionError" not in resp for resp, _ in results), docs
    assert docs[0]["env"] != docs[1]["env"]
    for doc in docs:
        assert doc["init"] == "snap-start"
        assert doc["state"] == "set in Init"
        assert doc["seen"] == 1  # its own list, not the other's
        assert len(doc["tmp"]) == 1  # its own /tmp
        assert listener.steps(doc["env"])[-3:] == ["after first", "after second", f"wait 2-{tag}"]
    assert docs[0]["random"] != docs[1]["random"]
    assert docs[0]["token"] != docs[1]["token"]  # each environment its own credentials
    assert docs[0]["cgroup"] != docs[1]["cgroup"] or "ember" not in docs[0]["cgroup"]


def test_a_failed_init_at_publish_marks_the_version_failed(
    lam: Any, listening: tuple[Listener, int]
) -> None:
    name = _snap_function(lam, listening[1], FAIL_INIT="1")
    version = _publish(lam, name)["Version"]
    config = _wait_settled(lam, name, version)
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "FunctionError"
    assert "Init failed on purpose" in config["StateReason"]
    with pytest.raises(ClientError) as refused:
        _invoke(lam, name, version)
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"


def test_a_resumed_environment_is_sandboxed_as_any_other(
    lam: Any, snap_server: Server, listening: tuple[Listener, int]
) -> None:
    name = _snap_function(lam, listening[1])
    version = _publish(lam, name)["Version"]
    assert _wait_settled(lam, name, version)["State"] == "Active"
    data_dir = str(Path(snap_server.data_dir).resolve())
    resp, doc = _invoke(lam, name, version, {"data_dir": data_dir})
    assert "FunctionError" not in resp, doc
    assert doc["init"] == "snap-start"
    assert doc["uid"] == 993  # Lambda's sbx_user1051
    assert int(doc["cap_eff"], 16) == 0
    assert max(doc["pids"]) < 50  # its own PID namespace
    assert doc["task_writable"] is False
    assert doc["data_dir"] is False  # Ember's data dir is not in its mount namespace
    # Descriptors: its output pipe, /dev/null, its own sockets and /proc listing, no more.
    assert all(
        target.startswith(("pipe:", "socket:", "/dev/null", "/proc/")) for target in doc["fds"]
    ), doc["fds"]


TICKER_HOG = """
import threading, time
COUNT = 0
def _tick():
    global COUNT
    while True:
        COUNT += 1
        time.sleep(0.001)
threading.Thread(target=_tick, daemon=True).start()
def handler(event, context):
    blocks = [bytearray(b"\\x01") * (1 << 20) for _ in range(event.get("mb", 0))]
    return {"count": COUNT, "mb": len(blocks)}
"""

PAUSE = """
import time
def handler(event, context):
    time.sleep(event["seconds"])
"""


def _host_has_cgroups() -> bool:
    import tempfile as _tempfile

    from ember.sandbox import Isolation, probe

    with _tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return host.tree is not None


@pytest.mark.skipif(not _host_has_cgroups(), reason="no writable cgroups here")
def test_a_snapshot_ready_environment_is_frozen_and_a_resumed_one_is_limited(lam: Any) -> None:
    name, pause = _name(), _name()
    create_function(
        lam, name, TICKER_HOG, runtime="python3.12", MemorySize=128, Timeout=30,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    create_function(lam, pause, PAUSE)
    _invoke(lam, pause, "$LATEST", {"seconds": 0})  # its cold start is not idle time
    version = _publish(lam, name)["Version"]
    assert _wait_settled(lam, name, version)["State"] == "Active"
    # A second's work elsewhere (the test itself does not sleep) while the version's
    # environment waits, past Init, to be restored: frozen, its thread does not run.
    _invoke(lam, pause, "$LATEST", {"seconds": 1.0})
    resp, doc = _invoke(lam, name, version, {"mb": 1})
    assert "FunctionError" not in resp, doc
    assert doc["count"] < 100
    # Its cgroup's memory limit holds: past MemorySize it is killed as any environment.
    resp, doc = _invoke(lam, name, version, {"mb": 400})
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Runtime.OutOfMemory"
    resp, doc = _invoke(lam, name, version, {"mb": 1})
    assert "FunctionError" not in resp, doc
    assert "Restore Duration" in _tail(resp)  # the next environment resumed too


AFTER_FAILS = """
from snapshot_restore_py import register_after_restore

@register_after_restore
def broken():
    raise ValueError("cannot reconnect")

def handler(event, context):
    return "unreachable"
"""


def test_a_failing_after_restore_hook_fails_the_invocation(lam: Any) -> None:
    name = _name()
    create_function(
        lam, name, AFTER_FAILS, runtime="python3.12", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    version = _publish(lam, name)["Version"]
    assert _wait_settled(lam, name, version)["State"] == "Active"  # Init itself succeeds
    resp, doc = _invoke(lam, name, version)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Runtime.AfterRestoreError"
    assert "cannot reconnect" in doc["errorMessage"]


def test_after_a_restart_an_active_version_still_resumes(
    tmp_path: Path, listening: tuple[Listener, int]
) -> None:
    access = ("--host-access", str(listening[1]))
    with run_server(tmp_path / "data", *access) as first:
        lam = first.client()
        name = _snap_function(lam, listening[1])
        version = _publish(lam, name)["Version"]
        assert _wait_settled(lam, name, version)["State"] == "Active"
    with run_server(tmp_path / "data", *access) as second:
        lam = second.client()
        assert lam.get_function_configuration(FunctionName=name, Qualifier=version)["State"] == (
            "Active"
        )
        resp, doc = _invoke(lam, name, version)
        assert "FunctionError" not in resp, doc
        assert doc["init"] == "snap-start"
        assert "Restore Duration" in _tail(resp)
