"""The seccomp filter's program: well-formed, and it refuses what it is meant to."""

from __future__ import annotations

import errno
import struct

import pytest

from ember.sandbox import bwrap, seccomp

_RET = 0x06
_ERRNO = 0x00050000


def _decode(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("=HBBI", code, i) for i in range(0, len(code), 8)]


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_every_jump_lands_inside_and_every_path_returns(machine: str) -> None:
    code = seccomp.program(machine)
    assert code is not None
    program = _decode(code)
    for at, (op, jt, jf, _) in enumerate(program):
        if op & 0x07 == 0x05:  # a jump
            assert at + 1 + max(jt, jf) < len(program)
    assert program[-1][0] == program[-2][0] == _RET
    assert {program[-1][3], program[-2][3]} == {_ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS}


def test_unknown_machines_get_no_filter() -> None:
    assert seccomp.program("riscv64") is None


def test_bwrap_loads_it_and_binds_a_disk_tmp() -> None:
    args = bwrap.command(
        "/usr/bin/bwrap",
        binds=(),
        identity=None,
        tmp_bytes=512 << 20,
        tmp_dir="/data/sandbox/scratch/1/abc",
        cwd="/",
        info_fd=17,
        unprivileged=False,
        seccomp_fd=19,
    )
    assert args[args.index("--seccomp") + 1] == "19"
    at = args.index("--bind")
    assert args[at : at + 3] == ["--bind", "/data/sandbox/scratch/1/abc", "/tmp"]
    assert "--tmpfs" not in args
