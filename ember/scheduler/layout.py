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
from ember.runtimes.catalog import SDK_VARIABLE
from ember.runtimes.jvm import honour_tool_options
from ember.runtimes.node import node_path
from ember.sandbox import SandboxSpec
from ember.scheduler.spec import EnvironmentSpec, ImageRun

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
    if spec.image is not None:
        return _image_plan(spec, spec.image, runtime, ctx)
    if ctx.sandboxed:
        task, opt, runtime_dir = TASK, OPT, RUNTIME
        lang = None if runtime.prefix in ("/", "/usr") else LANG
        binds = [(spec.code_path, TASK), (runtime.runtime_dir, RUNTIME)]
        if lang is not None:
            binds.append((runtime.prefix, LANG))
        if ctx.opt_dir is not None:
            binds.append((ctx.opt_dir, OPT))
        if runtime.is_python and runtime.sdk_dir is not None:
            binds.append((runtime.sdk_dir, SDK))
        binds.extend((folder, folder) for folder in runtime.extra_binds)
        argv = runtime.argv(task, lang=lang, runtime_dir=runtime_dir, memory_mb=spec.memory_size)
    else:
        task, opt, runtime_dir = spec.code_path, ctx.opt_dir or OPT, runtime.runtime_dir
        binds = []
        argv = runtime.argv(task, memory_mb=spec.memory_size)
    if runtime.is_java:
        argv = honour_tool_options(argv, spec.environment)
    names = external_extensions(ctx.opt_dir)
    env = _variables(spec, runtime, ctx, task=task, opt=opt, runtime_dir=runtime_dir)
    wrapper = spec.environment.get(EXEC_WRAPPER)
    if wrapper and runtime.is_managed:
        # Lambda execs the wrapper with the runtime's command line (managed runtimes only).
        argv = [_host_path(wrapper, ctx, spec) if not ctx.sandboxed else wrapper, *argv]
    entry = None
    if not runtime.is_managed:
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


def _image_plan(spec: EnvironmentSpec, image: ImageRun, runtime: RuntimeSpec, ctx: Context) -> Plan:
    """A container image's environment: its root file system read-only at /, its own
    program, Lambda's variables over the image's ENV (the function's over both); the same
    /tmp, /proc, network namespace and limits as any environment. Needs bubblewrap."""
    # Lambda's _HANDLER for an image: the first word of its CMD (or ImageConfig.Command).
    handler = image.command[0] if image.command else ""
    as_run = dataclasses.replace(
        spec, handler=handler, environment={**dict(image.env), **spec.environment}
    )
    env = _variables(as_run, runtime, ctx, task=TASK, opt=OPT, runtime_dir=RUNTIME)
    missing = None
    if not ctx.sandboxed:
        missing = "container images run only with bubblewrap isolation"
    elif not image.argv:
        missing = "the image has no ENTRYPOINT or CMD"
    elif not _in_image(spec.code_path, image.argv[0], env.get("PATH", "")):
        missing = image.argv[0]
    return Plan(
        sandbox=SandboxSpec(
            argv=list(image.argv),
            env=env,
            cwd=image.workdir,
            memory_mb=spec.memory_size,
            tmp_mb=spec.ephemeral_storage,
            netns=ctx.netns,
            hosts=ctx.hosts,
            root=spec.code_path,
        ),
        extensions=frozenset(),
        missing_entrypoint=missing,
    )


def _in_image(root: str, program: str, path: str) -> bool:
    """Whether the image holds `program` (a path, or a name looked up on its PATH); links
    are not followed here (they resolve against the image's root only inside)."""
    if "/" in program:
        candidates = [program if program.startswith("/") else "/" + program]
    else:
        candidates = [f"{folder.rstrip('/')}/{program}" for folder in path.split(":") if folder]
    return any(os.path.lexists(root + c) for c in candidates)


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
        if ctx.opt_dir is not None and runtime.is_java:
            env["_EMBER_OPT_DIR"] = opt  # where the Java runtime finds java/lib (not /opt)
    env.update({"LANG": "en_US.UTF-8", "TZ": ":UTC"})
    if runtime.is_node:
        # Lambda's nodejs runtimes set it unless the function does.
        env["NODE_PATH"] = node_path(spec.runtime, opt, runtime_dir, task)
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
    if spec.log_format == "JSON":
        # Lambda's runtimes write JSON application logs and filter them by this level.
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = spec.application_log_level
    env.update(ctx.credentials)  # reserved: the function's own variables never win
    if runtime.is_managed:
        # Lambda sets this for its managed runtimes only, not for `provided`.
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
        if runtime.sdk_dir is not None:
            # The runtime puts it on sys.path after the function's code and layers.
            env[SDK_VARIABLE] = SDK if ctx.sandboxed else runtime.sdk_dir
    return env
