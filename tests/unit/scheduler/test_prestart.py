"""Which cold starts a pre-started sandbox may serve, and that it is started as layout.plan
would start that function's sandbox (save the code, the layers and the program)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from ember.runtimes import RuntimeSpec
from ember.sandbox import mounts
from ember.sandbox.network import HostAccess
from ember.scheduler import layout, prestart
from ember.scheduler.spec import EnvironmentSpec
from ember.telemetry import Metrics

PYTHON = RuntimeSpec("python3.12", "/opt/py/3.12/bin/python3.12")
NODE = RuntimeSpec("nodejs20.x", "/usr/bin/node")


def _spec(code: Path, **changes: Any) -> EnvironmentSpec:
    values: dict[str, Any] = {
        "function_name": "fn", "version": "$LATEST", "revision_id": "r",
        "runtime": "python3.12", "handler": "app.handler", "memory_size": 256, "timeout": 3,
        "environment": {"MINE": "1"}, "code_path": str(code), "log_group": "/aws/lambda/fn",
    }  # fmt: skip
    values.update(changes)
    return EnvironmentSpec(**values)


def _pool(tmp_path: Path) -> prestart.Prestarts:
    caps: Any = types.SimpleNamespace(hosts=None)
    slots = mounts.SlotRoot(tmp_path / "prestart")
    return prestart.Prestarts(2, caps, HostAccess(), slots, Metrics())


def test_plain_python_cold_starts_are_eligible(tmp_path: Path) -> None:
    assert prestart._eligible(_spec(tmp_path), PYTHON)
    assert prestart._eligible(
        _spec(tmp_path, initialization_type="provisioned-concurrency"), PYTHON
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"ephemeral_storage": 1024},
        {"initialization_type": "snap-start"},
        {"environment": {"PYTHONPATH": "/var/task/lib"}},
        {"environment": {"LD_PRELOAD": "/var/task/x.so"}},
        {"environment": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrap"}},
    ],
)
def test_what_the_interpreter_reads_at_start_is_not(tmp_path: Path, changes: Any) -> None:
    assert not prestart._eligible(_spec(tmp_path, **changes), PYTHON)


def test_other_runtimes_are_not(tmp_path: Path) -> None:
    assert not prestart._eligible(_spec(tmp_path, runtime="nodejs20.x"), NODE)


def test_started_as_the_layout_would_start_it(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    slot = tmp_path / "slot"
    sandbox = pool._spec(PYTHON, slot, 12, None)
    ctx = layout.Context(
        sandboxed=True, region="us-east-1", bin_dir=Path("/data/bin"),
        opt_dir=str(tmp_path / "layers"), address="127.0.0.1:9001", stream="s",
    )  # fmt: skip
    plan = layout.plan(_spec(tmp_path / "code"), PYTHON, ctx)
    assert prestart._generic(sandbox.binds) == prestart._generic(plan.sandbox.binds)
    assert (str(slot / "task"), layout.TASK) in sandbox.binds
    assert (str(slot / "opt"), layout.OPT) in sandbox.binds
    assert sandbox.argv[:-2] == list(plan.sandbox.argv[:-1])  # the interpreter, -S
    assert sandbox.argv[-2:] == [f"{layout.RUNTIME}/prestarted.py", "12"]
    assert sandbox.keep_fds == [12]
    assert sandbox.tmp_mb == prestart.TMP_MB
    # Lambda's fixed variables only: the function's arrive with its assignment.
    assert sandbox.env["LD_LIBRARY_PATH"] == plan.sandbox.env["LD_LIBRARY_PATH"]
    assert "MINE" not in sandbox.env
    assert not any(name.startswith("AWS_") for name in sandbox.env)
