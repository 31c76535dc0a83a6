"""Node.js runtimes: which are offered for which node binaries, their command line, and
what their environments see (sandboxed and as plain processes)."""

from __future__ import annotations

from pathlib import Path

from ember.runtimes import RuntimeCatalog, RuntimeSpec
from ember.runtimes.node import NODE_RUNTIME_DIR, argv, major, node_path
from ember.scheduler import layout
from ember.scheduler.spec import EnvironmentSpec

NODE = RuntimeSpec("nodejs20.x", "/usr/bin/node")
NVM_NODE = RuntimeSpec("nodejs22.x", "/home/u/.nvm/versions/node/v22.1.0/bin/node")


def _spec(code: Path, **changes: object) -> EnvironmentSpec:
    values: dict[str, object] = {
        "function_name": "fn", "version": "$LATEST", "revision_id": "r",
        "runtime": "nodejs20.x", "handler": "index.handler", "memory_size": 1024,
        "timeout": 3, "environment": {}, "code_path": str(code), "log_group": "/aws/lambda/fn",
    }  # fmt: skip
    values.update(changes)
    return EnvironmentSpec(**values)  # type: ignore[arg-type]


def _ctx(sandboxed: bool, opt: Path | None = None) -> layout.Context:
    return layout.Context(
        sandboxed=sandboxed, region="us-east-1", bin_dir=Path("/data/bin"),
        opt_dir=str(opt) if opt else None, address="127.0.0.1:4000", stream="s",
    )  # fmt: skip


def test_a_nodejs_runtime_is_offered_where_a_node_of_its_major_exists() -> None:
    catalog = RuntimeCatalog({}, sdk_dir=None, nodes={"20": "/usr/bin/node"})
    assert catalog.get("nodejs20.x") == NODE
    assert catalog.get("nodejs18.x") is None
    assert catalog.get("nodejs22.x") is None
    assert "nodejs20.x" in catalog.names()
    assert catalog.nodes() == {"20": "/usr/bin/node"}
    assert major("nodejs22.x") == "22"


def test_node_command_line_sizes_the_heap_from_memory_as_lambda() -> None:
    assert argv("/n", "/var/runtime/index.mjs", 1024) == [
        "/n", "--expose-gc", "--max-http-header-size", "81920",
        "--max-semi-space-size=51", "--max-old-space-size=922", "/var/runtime/index.mjs",
    ]  # fmt: skip
    assert NODE.argv("/var/task", runtime_dir="/var/runtime")[-1] == "/var/runtime/index.mjs"
    assert NODE.argv("/code")[-1] == f"{NODE_RUNTIME_DIR}/index.mjs"


def test_sandboxed_node_environment_is_lambdas(tmp_path: Path) -> None:
    plan = layout.plan(_spec(tmp_path), NODE, _ctx(True))
    sandbox = plan.sandbox
    assert sandbox.argv[0] == "/usr/bin/node"  # the host's /usr is in the sandbox as is
    assert sandbox.argv[-1] == "/var/runtime/index.mjs"
    assert "--max-old-space-size=922" in sandbox.argv
    assert (str(NODE_RUNTIME_DIR), "/var/runtime") in sandbox.binds
    assert plan.missing_entrypoint is None
    env = sandbox.env
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["NODE_PATH"] == (
        "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:"
        "/var/runtime:/var/task"
    )
    assert "_EMBER_SDK_DIR" not in env
    # A node outside /usr has its installation bound at /var/lang, as Lambda's.
    other = layout.plan(_spec(tmp_path, runtime="nodejs22.x"), NVM_NODE, _ctx(True)).sandbox
    assert other.argv[0] == "/var/lang/bin/node"
    assert ("/home/u/.nvm/versions/node/v22.1.0", "/var/lang") in other.binds
    assert other.env["NODE_PATH"].startswith("/opt/nodejs/node22/node_modules:")


def test_a_function_may_set_its_own_node_path_and_exec_wrapper(tmp_path: Path) -> None:
    mine = {"NODE_PATH": "/var/task/lib", "AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrap"}
    sandbox = layout.plan(_spec(tmp_path, environment=mine), NODE, _ctx(True)).sandbox
    assert sandbox.env["NODE_PATH"] == "/var/task/lib"
    assert sandbox.argv[0] == "/opt/wrap"
    assert sandbox.argv[1] == "/usr/bin/node"


def test_plain_processes_find_layers_and_the_runtime_where_they_are(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    plan = layout.plan(_spec(tmp_path / "code"), NODE, _ctx(False, opt))
    sandbox = plan.sandbox
    assert sandbox.binds == []
    assert sandbox.argv[-1] == f"{NODE_RUNTIME_DIR}/index.mjs"
    assert sandbox.env["LAMBDA_RUNTIME_DIR"] == str(NODE_RUNTIME_DIR)
    assert sandbox.env["NODE_PATH"] == node_path(
        "nodejs20.x", str(opt), str(NODE_RUNTIME_DIR), str(tmp_path / "code")
    )
    assert sandbox.env["NODE_PATH"].startswith(f"{opt}/nodejs/node20/node_modules:")
