"""What one environment's processes see: folders, command line, environment variables.

Sandboxed (bubblewrap), the layout is Lambda's: the code at /var/task, the merged layers at
/opt, Ember's runtime at /var/runtime, the interpreter's installation at /var/lang, and the
variables Lambda sets with those paths. As plain processes (no bubblewrap on this host) the
same variables point at the host's folders instead, and layers reach Python through
PYTHONPATH, since nothing is mounted at /opt.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ember.runtimes import RuntimeSpec
from ember.runtimes.catalog import RUNTIME_DIR, SDK_VARIABLE
from ember.sandbox import SandboxSpec
from ember.scheduler.spec import EnvironmentSpec

TASK, OPT, RUNTIME, LANG = "/var/task", "/opt", "/var/runtime", "/var/lang"
SDK = "/var/runtime-sdk"  # boto3 and botocore for python3.x, shared read-only
# Lambda's values for its managed runtimes.
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    sandbox: SandboxSpec
    extensions: frozenset[str]  # names of the external extensions started before the runtime
    missing_entrypoint: str | None  # the runtime's program, when it does not exist


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What the layout needs beyond the function: where things are on this server."""

    sandboxed: bool
    region: str
    bin_dir: Path  # `python3` links for plain processes
    opt_dir: str | None  # the merged layers, if the function has any
    address: str  # the Runtime API's host:port
    stream: str  # the log stream's name
    netns: int = -1  # the environment's network namespace (an fd), if it has its own
    hosts: Path | None = None  # the /etc/hosts that goes with it
    aws_endpoint: str = ""  # Ember's AWS API as reachable from inside (AWS_ENDPOINT_URL)
    # The execution role's temporary credentials: AWS_ACCESS_KEY_ID, ….
    credentials: Mapping[str, str] = dataclasses.field(default_factory=dict)


def external_extensions(opt_dir: str | None) -> list[str]:
    """The executables in <layers>/extensions, by name (Lambda starts them all). Names
    that are not plain words are left out: they travel through a line-based pipe."""
    if opt_dir is None:
        return []
    folder = os.path.join(opt_dir, "extensions")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [
        n
        for n in names
        if _PLAIN_NAME.fullmatch(n)
        and os.path.isfile(p := os.path.join(folder, n))
        and os.access(p, os.X_OK)
    ]


def plan(spec: EnvironmentSpec, runtime: RuntimeSpec, ctx: Context) -> Plan:
    """The sandbox to start for `spec` (blocking: looks at the layers' folder)."""
    if ctx.sandboxed:
        task, opt, runtime_dir = TASK, OPT, RUNTIME
        lang = None if runtime.prefix in ("/", "/usr") else LANG
        binds = [(spec.code_path, TASK), (str(RUNTIME_DIR), RUNTIME)]
        if lang is not None:
            binds.append((runtime.prefix, LANG))
        if ctx.opt_dir is not None:
            binds.append((ctx.opt_dir, OPT))
        if runtime.is_python and runtime.sdk_dir is not None:
            binds.append((runtime.sdk_dir, SDK))
        argv = runtime.argv(task, lang=lang, runtime_dir=runtime_dir)
    else:
        task, opt, runtime_dir = spec.code_path, ctx.opt_dir or OPT, str(RUNTIME_DIR)
        binds = []
        argv = runtime.argv(task)
    names = external_extensions(ctx.opt_dir)
    env = _variables(spec, runtime, ctx, task=task, opt=opt, runtime_dir=runtime_dir)
    wrapper = spec.environment.get(EXEC_WRAPPER)
    if wrapper and runtime.is_python:
        # Lambda execs the wrapper with the runtime's command line (managed runtimes only).
        argv = [_host_path(wrapper, ctx, spec) if not ctx.sandboxed else wrapper, *argv]
    entry = None
    if not runtime.is_python:
        bootstrap = os.path.join(spec.code_path, "bootstrap")
        if not (os.path.isfile(bootstrap) and os.access(bootstrap, os.X_OK)):
            entry = argv[0]
    return Plan(
        sandbox=SandboxSpec(
            argv=argv,
            env=env,
            cwd=task,
            memory_mb=spec.memory_size,
            tmp_mb=spec.ephemeral_storage,
            binds=binds,
            companions=[f"{opt}/extensions/{n}" for n in names],
            netns=ctx.netns,
            hosts=ctx.hosts,
        ),
        extensions=frozenset(names),
        missing_entrypoint=entry,
    )


def _host_path(path: str, ctx: Context, spec: EnvironmentSpec) -> str:
    """A sandbox path (/opt/..., /var/task/...) as plain processes find it."""
    if ctx.opt_dir is not None and (path == OPT or path.startswith(OPT + "/")):
        return ctx.opt_dir + path[len(OPT) :]
    if path == TASK or path.startswith(TASK + "/"):
        return spec.code_path + path[len(TASK) :]
    return path


def _variables(
    spec: EnvironmentSpec,
    runtime: RuntimeSpec,
    ctx: Context,
    *,
    task: str,
    opt: str,
    runtime_dir: str,
) -> dict[str, str]:
    """Lambda's variables, then the function's, then Lambda's reserved ones over them."""
    if ctx.sandboxed:
        env = {"PATH": LAMBDA_PATH, "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH}
    else:
        env = {
            "PATH": f"{ctx.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "LD_LIBRARY_PATH": "/usr/local/lib:/usr/lib:/lib",
        }
        if ctx.opt_dir is not None and runtime.is_python:
            version = runtime.name.removeprefix("python")
            env["PYTHONPATH"] = f"{opt}/python/lib/python{version}/site-packages:{opt}/python"
    env.update({"LANG": "en_US.UTF-8", "TZ": ":UTC"})
    if ctx.aws_endpoint:
        # boto3 and the AWS CLI call Ember with no code change (a function may set its own).
        env["AWS_ENDPOINT_URL"] = ctx.aws_endpoint
    env.update(spec.environment)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": ctx.stream,
            "AWS_REGION": ctx.region,
            "AWS_DEFAULT_REGION": ctx.region,
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": task,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "AWS_LAMBDA_RUNTIME_API": ctx.address,
            "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
        }
    )
    env.update(ctx.credentials)  # reserved: the function's own variables never win
    if runtime.is_python:
        # Lambda sets this for its managed runtimes only, not for `provided`.
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
        if runtime.sdk_dir is not None:
            # The runtime puts it on sys.path after the function's code and layers.
            env[SDK_VARIABLE] = SDK if ctx.sandboxed else runtime.sdk_dir
    return env
