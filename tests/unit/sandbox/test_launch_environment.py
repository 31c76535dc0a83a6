"""What environment each launch step gets: the function's variables never reach a step that
runs with more privilege than the function, the loader's never a step before the program."""

from __future__ import annotations

import os

import pytest

from ember.sandbox import Capabilities, Isolation, LaunchError, SandboxSpec, launcher
from ember.sandbox.command import Command, build, close_fds

ENV = {
    "PATH": "/var/lang/bin:/usr/bin",
    "LD_LIBRARY_PATH": "/var/task/lib",
    "LD_PRELOAD": "/var/task/evil.so",
    "LD_AUDIT": "/var/task/evil.so",
    "GCONV_PATH": "/var/task",
    "SECRET": "s3cr3t value",
}
SPEC = SandboxSpec(argv=["/var/runtime/bootstrap"], env=ENV, cwd="/var/task", memory_mb=128)


def _caps(*, bwrap: bool, root: bool = True) -> Capabilities:
    return Capabilities(
        mode=Isolation.AUTO,
        cores=1,
        bwrap="/usr/bin/bwrap" if bwrap else None,
        setpriv="/usr/bin/setpriv" if bwrap and root else None,
    )


def _built(spec: SandboxSpec, caps: Capabilities) -> tuple[Command, list[str]]:
    """The command, and what bubblewrap reads from its --args pipe (split at NULs)."""
    command = build(spec, caps, None)
    try:
        args: list[str] = []
        if "--args" in command.argv:
            fd = int(command.argv[command.argv.index("--args") + 1])
            assert fd in command.child_ends
            data = os.read(fd, 1 << 20)
            args = data.decode().split("\0")[:-1]
        return command, args
    finally:
        close_fds(*command.child_ends)
        command.close_ours()


def _setenv(args: list[str]) -> dict[str, str]:
    return {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "--setenv"}


def test_root_sandbox_launchers_start_clean_and_loader_variables_come_after_setpriv() -> None:
    command, args = _built(SPEC, _caps(bwrap=True))
    assert command.env == launcher.LAUNCH_ENV  # sh ENTER and bwrap
    argv = command.argv
    assert "--clearenv" in argv
    # No value of the function's on any command line but the loader's, after setpriv.
    assert not any("s3cr3t" in a for a in argv)
    inside = _setenv(args)
    assert inside["SECRET"] == "s3cr3t value"
    assert inside["PATH"] == ENV["PATH"]
    assert not any(launcher.loader_variable(name) for name in inside)
    setpriv = argv.index("/usr/bin/setpriv")
    step = argv.index(launcher.ENV)
    assert setpriv < step < argv.index("/var/runtime/bootstrap")
    assert set(argv[step + 1 : argv.index("/var/runtime/bootstrap")]) == {
        "LD_LIBRARY_PATH=/var/task/lib",
        "LD_PRELOAD=/var/task/evil.so",
        "LD_AUDIT=/var/task/evil.so",
        "GCONV_PATH=/var/task",
    }


def test_unprivileged_sandbox_gets_everything_through_bubblewrap() -> None:
    command, args = _built(SPEC, _caps(bwrap=True, root=False))
    assert command.env == launcher.LAUNCH_ENV
    assert launcher.ENV not in command.argv  # no root step inside: nothing to protect
    assert _setenv(args) == ENV


def test_plain_launch_steps_do_not_get_the_loader_variables() -> None:
    command, _ = _built(SPEC, _caps(bwrap=False))  # rlimits: the ENTER step runs first
    assert command.argv[0] == launcher.SH
    assert not any(launcher.loader_variable(name) for name in command.env)
    assert command.env["SECRET"] == "s3cr3t value"
    step = command.argv.index(launcher.ENV)
    assert command.argv[step + 1 : step + 5] == [
        "LD_LIBRARY_PATH=/var/task/lib",
        "LD_PRELOAD=/var/task/evil.so",
        "LD_AUDIT=/var/task/evil.so",
        "GCONV_PATH=/var/task",
    ]
    assert command.argv[-1] == "/var/runtime/bootstrap"


def test_without_isolation_the_program_still_gets_every_variable() -> None:
    caps = Capabilities(mode=Isolation.NONE, cores=1)
    command, _ = _built(SPEC, caps)
    program = command.argv.index("/var/runtime/bootstrap")
    given = dict(
        a.split("=", 1) for a in command.argv[command.argv.index(launcher.ENV) + 1 : program]
    )
    assert {**command.env, **given} == ENV


def test_a_nul_in_a_variable_is_refused() -> None:
    spec = SandboxSpec(argv=["/x"], env={"A": "b\0c"}, cwd="/", memory_mb=128)
    with pytest.raises(LaunchError):
        build(spec, _caps(bwrap=True), None)


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        ("LD_PRELOAD", True),
        ("LD_ANYTHING", True),
        ("GCONV_PATH", True),
        ("GLIBC_TUNABLES", True),
        ("MALLOC_CHECK_", True),
        ("PATH", False),
        ("LANG", False),
        ("AWS_SECRET_ACCESS_KEY", False),
    ],
)
def test_loader_variables(name: str, loader: bool) -> None:
    assert launcher.loader_variable(name) is loader
