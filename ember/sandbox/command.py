"""An environment's command line, layer by layer, and the pipes that go with it:

    [sh ENTER: join the cgroups, rlimits] → bwrap → [setpriv] → [bash COMPANIONS] → program

Each bracket only where it applies. The pipes: bubblewrap's info (its pid 1), and with
companions the go line that starts the program and the companions' exit reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os

from ember.sandbox import bwrap, launcher
from ember.sandbox.capabilities import Capabilities
from ember.sandbox.cgroups import Group
from ember.sandbox.spec import SandboxSpec


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

    def close_ours(self) -> None:
        close_fds(self.go, self.reports, self.info)


def build(spec: SandboxSpec, caps: Capabilities, group: Group | None) -> Command:
    command = Command(argv=list(spec.argv), cwd=spec.cwd, child_ends=[])
    try:
        if spec.companions:
            go_r, command.go = os.pipe2(os.O_CLOEXEC)
            command.reports, report_w = os.pipe2(os.O_CLOEXEC)
            go_r, report_w = _high_fd(go_r), _high_fd(report_w)
            command.child_ends += [go_r, report_w]
            command.argv = launcher.with_companions(
                go_r, report_w, list(spec.companions), command.argv
            )
        if caps.bwrap is not None:
            if caps.setpriv is not None:
                command.argv = bwrap.drop_privileges(caps.setpriv) + command.argv
            command.info, info_w = os.pipe2(os.O_CLOEXEC)
            command.child_ends.append(info_w)
            sandbox = bwrap.command(
                caps.bwrap,
                binds=spec.binds,
                identity=caps.identity,
                tmp_bytes=spec.tmp_mb << 20,
                cwd=spec.cwd,
                info_fd=info_w,
                unprivileged=caps.unprivileged_bwrap,
            )
            command.argv = sandbox + command.argv
            command.cwd = "/"  # the program's working folder is bubblewrap's --chdir
        files = group.enter_files() if group is not None else []
        limits = ["-d", str(spec.memory_mb * 1024)] if caps.rlimits else []
        if files or limits:
            command.argv = launcher.enter(files, limits, command.argv)
    except BaseException:
        close_fds(*command.child_ends)
        command.close_ours()
        raise
    return command
