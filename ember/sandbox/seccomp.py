"""The seccomp filter every sandboxed process runs under: no new user namespaces.

A user namespace of its own would make a function root inside it: free to mount, and to
reach kernel code that only root can (where most namespace escapes have been found).
Lambda refuses it; so does this filter, handed to bubblewrap (`--seccomp FD`) as a
classic BPF program: `unshare` and `clone` with CLONE_NEWUSER fail with EPERM. `clone3`
passes its flags in memory, out of a filter's reach: it fails with ENOSYS, and the C
library falls back to `clone` (as Docker's default profile does). So do system calls of
another ABI (i386 or x32 on x86-64), which could otherwise bypass the numbers checked.
Everything else is allowed.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# <linux/audit.h>, and the system call numbers, per machine: (arch, unshare, clone, clone3)
_MACHINES = {
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
_X32_BIT = 0x40000000  # x32 system calls on x86-64 carry this bit
CLONE_NEWUSER = 0x10000000

# <linux/filter.h>, <linux/seccomp.h>
_LD_W_ABS = 0x20
_JEQ, _JGE, _JSET = 0x15, 0x35, 0x45  # BPF_JMP | op | BPF_K
_RET = 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
# struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little-endian: low half first)
_NR, _ARCH, _ARG0_LOW = 0, 4, 16


def program(machine: str | None = None) -> bytes | None:
    """The compiled filter for this machine (None where its numbers are not known here)."""
    numbers = _MACHINES.get(machine or platform.machine())
    if numbers is None:
        return None
    arch, unshare, clone, clone3 = numbers
    # (code, jump if true, jump if false, k); jumps name a label below.
    code: list[tuple[int, str | int, str | int, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ, 0, "enosys", arch),
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if arch == _MACHINES["x86_64"][0]:
        code.append((_JGE, "enosys", 0, _X32_BIT))
    code += [
        (_JEQ, "enosys", 0, clone3),
        (_JEQ, "flags", 0, unshare),
        (_JEQ, "flags", 0, clone),
        (_RET, 0, 0, _ALLOW),
    ]
    labels = {"flags": len(code)}
    code += [(_LD_W_ABS, 0, 0, _ARG0_LOW), (_JSET, "eperm", 0, CLONE_NEWUSER), (_RET, 0, 0, _ALLOW)]
    labels["eperm"] = len(code)
    code.append((_RET, 0, 0, _ERRNO | errno.EPERM))
    labels["enosys"] = len(code)
    code.append((_RET, 0, 0, _ERRNO | errno.ENOSYS))

    def offset(at: int, target: str | int) -> int:
        return target if isinstance(target, int) else labels[target] - at - 1

    return b"".join(
        struct.pack("=HBBI", op, offset(i, jt), offset(i, jf), k)
        for i, (op, jt, jf, k) in enumerate(code)
    )


def pipe() -> int:
    """A pipe's read end holding the filter, for `bwrap --seccomp FD`; -1 without one."""
    code = program()
    if code is None:
        return -1
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        os.write(write_fd, code)  # ~100 bytes: within any pipe's buffer
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return read_fd
