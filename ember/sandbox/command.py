"""An environment's command line, layer by layer, and the pipes that go with it:

    [sh ENTER: join the cgroups, rlimits] → bwrap → [setpriv] → [env LD_*=…] →
    [bash COMPANIONS] → program

Each bracket only where it applies. The pipes: bubblewrap's info (its pid 1), the
function's variables for bubblewrap (`--args`), and with companions the go line that
starts the program and the companions' exit reports. `env` is what the first process
starts with: never the loader variables when a launcher step runs before the program.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Mapping

from ember.sandbox import bwrap, descriptors, launcher, seccomp
from ember.sandbox.capabilities import Capabilities
from ember.sandbox.cgroups import Group
from ember.sandbox.spec import LaunchError, SandboxSpec

_PIPE_BUFFER = 65536  # Linux's default pipe capacity


def close_fds(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def _high_fd(fd: int) -> int:
    """`fd` moved to 10 or above (the companion launcher takes 3 and 4), inheritable."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


@dataclasses.dataclass
class Command:
    argv: list[str]
    cwd: str
    child_ends: list[int]  # passed to the child, closed here once it started
    go: int = -1  # ours: write a line to start the held program
    reports: int = -1  # ours: "<status> <name>" per companion that exits
    info: int = -1  # ours: bubblewrap's JSON with the sandbox's pid 1
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # the first process's

    def close_ours(self) -> None:
        close_fds(self.go, self.reports, self.info)


def _variables_pipe(env: Mapping[str, str]) -> int:
    """A pipe's read end holding bubblewrap's `--setenv` arguments for `env`."""
    data = bwrap.environment_args(env)
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        if len(data) > _PIPE_BUFFER:
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, len(data))
        os.set_blocking(write_fd, False)
        if os.write(write_fd, data) != len(data):
            raise LaunchError("the environment variables do not fit the launch pipe")
    except OSError as exc:
        os.close(read_fd)
        raise LaunchError(f"cannot pass the environment variables: {exc}") from exc
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return _high_fd(read_fd)


def build(spec: SandboxSpec, caps: Capabilities, group: Group | None) -> Command:
    command = Command(
        argv=list(spec.argv), cwd=spec.cwd, child_ends=list(spec.keep_fds), env=dict(spec.env)
    )
    if any("\0" in name or "\0" in value for name, value in spec.env.items()):
        raise LaunchError("an environment variable contains a NUL character")
    rest, loader = launcher.split_environment(spec.env)
    try:
        if spec.companions:
            go_r, command.go = os.pipe2(os.O_CLOEXEC)
            command.reports, report_w = os.pipe2(os.O_CLOEXEC)
            go_r, report_w = _high_fd(go_r), _high_fd(report_w)
            command.child_ends += [go_r, report_w]
            command.argv = launcher.with_companions(
                go_r, report_w, list(spec.companions), command.argv
            )
        files = group.enter_files() if group is not None else []
        limits = ["-d", str(spec.memory_mb * 1024)] if caps.rlimits else []
        # Lambda's 1,024 open files, not the server's raised limit.
        limits += ["-n", str(descriptors.FUNCTION_LIMIT)]
        if caps.bwrap is not None:
            inside = spec.env
            if caps.setpriv is not None:
                # setpriv runs as root inside: the loader variables come after it.
                image = spec.root is not None
                command.argv = launcher.with_loader_variables(loader, command.argv)
                if loader and image:  # `env` from the host's /usr, as setpriv
                    command.argv[:1] = bwrap.host_tool(command.argv[0], image=True)
                drop = bwrap.drop_privileges(caps.setpriv)
                drop[:1] = bwrap.host_tool(caps.setpriv, image=image)
                command.argv = drop + command.argv
                inside = rest
            env_r = _variables_pipe(inside)
            command.child_ends.append(env_r)
            filter_r = seccomp.pipe()  # no user namespaces inside
            if filter_r >= 0:
                command.child_ends.append(filter_r)
            command.info, info_w = os.pipe2(os.O_CLOEXEC)
            command.child_ends.append(info_w)
            sandbox = bwrap.command(
                caps.bwrap,
                binds=spec.binds,
                identity=caps.identity,
                tmp_bytes=spec.tmp_mb << 20,
                tmp_dir=spec.tmp_dir,
                cwd=spec.cwd,
                info_fd=info_w,
                unprivileged=caps.unprivileged_bwrap,
                env_fd=env_r,
                seccomp_fd=filter_r,
                hosts=spec.hosts,
                image_root=spec.root,
            )
            command.argv = sandbox + command.argv
            command.cwd = "/"  # the program's working folder is bubblewrap's --chdir
            command.env = dict(launcher.LAUNCH_ENV)
        elif spec.companions or files or limits:
            # Plain processes: the launcher steps run as the function's user, but still
            # without what would make them load the function's code.
            command.argv = launcher.with_loader_variables(loader, command.argv)
            command.env = rest
        if files or limits:
            command.argv = launcher.enter(files, limits, command.argv)
    except BaseException:
        close_fds(*command.child_ends)
        command.close_ours()
        raise
    return command
