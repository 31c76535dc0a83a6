"""What an environment's processes see, sandboxed and not."""

from __future__ import annotations

from pathlib import Path

from ember.runtimes import RuntimeSpec
from ember.runtimes.catalog import RUNTIME_DIR
from ember.scheduler import layout
from ember.scheduler.spec import EnvironmentSpec

PYTHON = RuntimeSpec("python3.12", "/opt/py/3.12/bin/python3.12")


def _spec(code: Path, **changes: object) -> EnvironmentSpec:
    values: dict[str, object] = {
        "function_name": "fn", "version": "$LATEST",
        "revision_id": "r", "runtime": "python3.12", "handler": "app.handler",
        "memory_size": 256, "timeout": 3, "environment": {"MINE": "1"},
        "code_path": str(code), "log_group": "/aws/lambda/fn", "ephemeral_storage": 1024,
    }  # fmt: skip
    values.update(changes)
    return EnvironmentSpec(**values)  # type: ignore[arg-type]


def _ctx(sandboxed: bool, opt: Path | None = None) -> layout.Context:
    return layout.Context(
        sandboxed=sandboxed, region="us-east-1", bin_dir=Path("/data/bin"),
        opt_dir=str(opt) if opt else None, address="127.0.0.1:4000", stream="s",
    )  # fmt: skip


def test_sandboxed_layout_is_lambdas(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    (opt / "extensions").mkdir(parents=True)
    for name, mode in (("b-ext", 0o755), ("a-ext", 0o755), ("notes.txt", 0o644)):
        (opt / "extensions" / name).write_text("x")
        (opt / "extensions" / name).chmod(mode)
    plan = layout.plan(_spec(tmp_path), PYTHON, _ctx(True, opt))
    sandbox = plan.sandbox
    assert sandbox.argv == ["/var/lang/bin/python3.12", "-S", "/var/runtime/bootstrap.py"]
    assert set(sandbox.binds) == {
        (str(tmp_path), "/var/task"), (str(RUNTIME_DIR), "/var/runtime"),
        ("/opt/py/3.12", "/var/lang"), (str(opt), "/opt"),
    }  # fmt: skip
    assert (sandbox.cwd, sandbox.tmp_mb, sandbox.memory_mb) == ("/var/task", 1024, 256)
    assert plan.extensions == frozenset({"a-ext", "b-ext"})
    assert sandbox.companions == ["/opt/extensions/a-ext", "/opt/extensions/b-ext"]
    env = sandbox.env
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["MINE"] == "1"
    assert set(env) == {
        "PATH", "LD_LIBRARY_PATH", "LANG", "TZ", "MINE", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION",
        "AWS_DEFAULT_REGION", "_HANDLER", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_EXECUTION_ENV",
    }  # fmt: skip


def test_exec_wrapper_goes_first_for_managed_runtimes_only(tmp_path: Path) -> None:
    wrapped = _spec(tmp_path, environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrap"})
    plan = layout.plan(wrapped, PYTHON, _ctx(True))
    assert plan.sandbox.argv[0] == "/opt/wrap"
    provided = RuntimeSpec("provided.al2023", "/usr/bin/python3")
    plan = layout.plan(_spec(tmp_path, runtime="provided.al2023"), provided, _ctx(True))
    assert plan.sandbox.argv == ["/var/task/bootstrap"]
    assert plan.missing_entrypoint == "/var/task/bootstrap"  # there is none in the code


def test_plain_processes_see_host_paths_and_find_layers_through_pythonpath(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    opt.mkdir()
    plan = layout.plan(_spec(tmp_path), PYTHON, _ctx(False, opt))
    assert plan.sandbox.binds == []
    assert plan.sandbox.env["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert plan.sandbox.env["PATH"].startswith("/data/bin:")
    assert plan.sandbox.env["PYTHONPATH"] == (
        f"{opt}/python/lib/python3.12/site-packages:{opt}/python"
    )


def test_python_runtimes_get_the_shared_sdk_read_only(tmp_path: Path) -> None:
    """boto3/botocore: bound at /var/runtime-sdk (sandboxed) or found where they are."""
    with_sdk = RuntimeSpec("python3.12", "/opt/py/3.12/bin/python3.12", "/srv/sdk")
    sandboxed = layout.plan(_spec(tmp_path), with_sdk, _ctx(True)).sandbox
    assert ("/srv/sdk", "/var/runtime-sdk") in sandboxed.binds
    assert sandboxed.env["_EMBER_SDK_DIR"] == "/var/runtime-sdk"
    plain = layout.plan(_spec(tmp_path), with_sdk, _ctx(False)).sandbox
    assert plain.env["_EMBER_SDK_DIR"] == "/srv/sdk"
    # Not for `provided` (Lambda's OS-only runtimes have no SDK), not where none is installed.
    provided = RuntimeSpec("provided.al2023", "/usr/bin/python3", "/srv/sdk")
    spec = _spec(tmp_path, runtime="provided.al2023")
    assert "_EMBER_SDK_DIR" not in layout.plan(spec, provided, _ctx(True)).sandbox.env
    assert "_EMBER_SDK_DIR" not in layout.plan(_spec(tmp_path), PYTHON, _ctx(True)).sandbox.env


def test_an_own_network_namespace_goes_with_its_hosts_file_and_aws_endpoint(
    tmp_path: Path,
) -> None:
    ctx = layout.Context(
        sandboxed=True, region="us-east-1", bin_dir=Path("/data/bin"), opt_dir=None,
        address="127.0.0.1:9001", stream="s", netns=7, hosts=Path("/s/etc/hosts"),
        aws_endpoint="http://host.ember.internal:9001",
    )  # fmt: skip
    sandbox = layout.plan(_spec(tmp_path), PYTHON, ctx).sandbox
    assert (sandbox.netns, sandbox.hosts) == (7, Path("/s/etc/hosts"))
    assert sandbox.env["AWS_ENDPOINT_URL"] == "http://host.ember.internal:9001"
    assert sandbox.env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    # A function may point its SDK elsewhere (AWS_ENDPOINT_URL is not reserved on Lambda).
    mine = _spec(tmp_path, environment={"AWS_ENDPOINT_URL": "http://elsewhere:1"})
    assert layout.plan(mine, PYTHON, ctx).sandbox.env["AWS_ENDPOINT_URL"] == "http://elsewhere:1"


def test_the_role_credentials_are_reserved_variables(tmp_path: Path) -> None:
    creds = {"AWS_ACCESS_KEY_ID": "ASIAX", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    ctx = layout.Context(
        sandboxed=True, region="us-east-1", bin_dir=Path("/data/bin"), opt_dir=None,
        address="127.0.0.1:9001", stream="s", credentials=creds,
    )  # fmt: skip
    mine = _spec(tmp_path, environment={"AWS_ACCESS_KEY_ID": "AKIAMINE", "MINE": "1"})
    env = layout.plan(mine, PYTHON, ctx).sandbox.env
    assert {name: env[name] for name in creds} == creds
    assert env["MINE"] == "1"
