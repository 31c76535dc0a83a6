"""Folders mounted into a running sandbox from the host, through mount propagation.

A pre-started sandbox (scheduler.prestart) is made before anyone knows which function it
will run: bubblewrap binds two empty per-slot host folders at /var/task and /opt. Each
slot folder is bind-mounted on itself as a *shared* mount of its own peer group, so the
sandbox's bind of it is a *slave* of that group (bubblewrap makes its whole tree
MS_SLAVE): a mount the host later makes on the slot folder propagates into that one
sandbox only. The function's code is attached there read-only, nosuid, nodev from the
start (a detached clone from `open_tree`, its flags set with `mount_setattr` before
`move_mount`: a remount after the attach would not reach the propagated copy). Then the
host's side is made private (the sandbox's copy loses its master, and nothing of the
host reaches it any more) and unmounted without propagating: the host's mount table does
not grow with live environments (bubblewrap copies it into every new sandbox). The
sandbox's user has no capabilities and cannot unmount its copy to look underneath (and
the slot below is empty).

Needs root and Linux 5.12 or later (mount_setattr); `check()` says whether it works.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
from pathlib import Path

# x86_64 and aarch64 share these numbers (the new mount API is in the generic table).
_OPEN_TREE, _MOVE_MOUNT, _MOUNT_SETATTR = 428, 429, 442
_OPEN_TREE_CLONE = 1
_OPEN_TREE_CLOEXEC = os.O_CLOEXEC
_AT_EMPTY_PATH = 0x1000
_AT_RECURSIVE = 0x8000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
_AT_FDCWD = -100
_MS_BIND, _MS_REC, _MS_PRIVATE, _MS_SHARED = 0x1000, 0x4000, 1 << 18, 1 << 20
_MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class MountError(OSError):
    pass


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise MountError(err, f"{what}: {os.strerror(err)}")
    return result


def _mount(source: str, target: str, flags: int) -> None:
    _check(_libc.mount(source.encode(), target.encode(), None, flags, None), f"mount {target}")


def umount(target: Path) -> None:
    """Detach whatever is mounted at `target` (nothing there is fine)."""
    if _libc.umount2(str(target).encode(), _MNT_DETACH) < 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise MountError(err, f"umount {target}: {os.strerror(err)}")


def _set_private(fd: int, what: str) -> None:
    attr = _MountAttr(0, 0, _MS_PRIVATE, 0)
    _check(
        _libc.syscall(
            _MOUNT_SETATTR,
            fd,
            b"",
            _AT_EMPTY_PATH,
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {what}",
    )


def share(target: Path) -> None:
    """`target` (a folder) bind-mounted on itself, shared in a peer group of its own."""
    _mount(str(target), str(target), _MS_BIND)
    _mount("none", str(target), _MS_PRIVATE)
    _mount("none", str(target), _MS_SHARED)


def hand_over(source: str | None, target: Path) -> None:
    """Into the sandbox whose bind is a slave of `target` (see share()): `source`
    read-only (None: nothing, the folder stays empty there). Then the host's mounts at
    `target` go, and the sandbox keeps its copy (blocking, ~0.1 ms)."""
    base = _check(
        _libc.syscall(_OPEN_TREE, _AT_FDCWD, str(target).encode(), _OPEN_TREE_CLOEXEC),
        f"open_tree {target}",
    )
    try:
        if source is not None:
            attach_read_only(source, target)
        _set_private(base, str(target))  # the sandbox's copy is cut loose from here
    finally:
        os.close(base)
    if source is not None:
        umount(target)  # the code's mount, on top
    umount(target)  # the slot's own


def attach_read_only(source: str, target: Path) -> None:
    """`source` (and what is mounted below it) at `target`: read-only, nosuid, nodev from
    the moment it appears, so every propagated copy is too (blocking, ~50 µs)."""
    fd = _check(
        _libc.syscall(
            _OPEN_TREE,
            _AT_FDCWD,
            source.encode(),
            _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_RECURSIVE,
        ),
        f"open_tree {source}",
    )
    try:
        attr = _MountAttr(_MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV, 0, 0, 0)
        _check(
            _libc.syscall(
                _MOUNT_SETATTR,
                fd,
                b"",
                _AT_EMPTY_PATH | _AT_RECURSIVE,
                ctypes.byref(attr),
                ctypes.c_size_t(ctypes.sizeof(attr)),
            ),
            f"mount_setattr {source}",
        )
        _check(
            _libc.syscall(
                _MOVE_MOUNT, fd, b"", _AT_FDCWD, str(target).encode(), _MOVE_MOUNT_F_EMPTY_PATH
            ),
            f"move_mount {target}",
        )
    finally:
        os.close(fd)


class SlotRoot:
    """The shared folder whose slots pre-started sandboxes bind (`<state>/prestart/<pid>`).
    `open()` sweeps what earlier servers left, `close()` removes ours."""

    def __init__(self, base: Path) -> None:
        self.base = base  # <state>/prestart
        self.path = base / str(os.getpid())
        self._count = 0

    @classmethod
    def open(cls, base: Path) -> SlotRoot:
        root = cls(base)
        root._sweep()
        root.path.mkdir(parents=True, mode=0o755)
        return root

    def _sweep(self) -> None:
        """Slots of servers no longer running: unmount (lazily) and delete."""
        try:
            entries = list(self.base.iterdir())
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.isdigit() and _alive(int(entry.name)) and entry != self.path:
                continue
            _remove_tree(entry)

    def slot(self) -> Path:
        """A new slot: `<slot>/task` and `<slot>/opt`, empty, readable by the sandbox,
        each shared (see share())."""
        self._count += 1
        slot = self.path / str(self._count)
        try:
            for name in ("task", "opt"):
                (slot / name).mkdir(parents=True, mode=0o755)
                share(slot / name)
            slot.chmod(0o755)
        except BaseException:
            _remove_tree(slot)
            raise
        return slot

    def release(self, slot: Path) -> None:
        """Unmount what the slot holds and delete it (blocking)."""
        _remove_tree(slot)

    def close(self) -> None:
        _remove_tree(self.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: Path) -> None:
    """Unmount every mount at or below `path` (deepest first), then delete it."""
    prefix = str(path)
    mounted: list[str] = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as table:
        for line in table:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                mounted.append(point)
    for point in sorted(mounted, key=len, reverse=True):
        with contextlib.suppress(MountError):
            umount(Path(point))
    shutil.rmtree(path, ignore_errors=True)


def check(base: Path) -> str | None:
    """None when slots work here; else why not (not root, an old kernel, ...)."""
    if os.geteuid() != 0:
        return "not root"
    probe = base / f"probe-{os.getpid()}"
    try:
        probe.mkdir(parents=True, exist_ok=True)
        (probe / "from").mkdir(exist_ok=True)
        (probe / "to").mkdir(exist_ok=True)
        share(probe / "to")
        hand_over(str(probe / "from"), probe / "to")
    except OSError as exc:
        return str(exc)
    finally:
        _remove_tree(probe)
    return None
