"""Each environment's /tmp on disk: an ext4 image of EphemeralStorage MB, loop-mounted.

A tmpfs /tmp lives in memory and its pages are charged to the environment's memory cgroup:
a 128 MB function writing 200 MB there is OOM-killed, where Lambda lets it succeed and
answers ENOSPC only past EphemeralStorage. Here /tmp is a fresh ext4 filesystem in a
sparse image file: its page cache is reclaimable (written back, then dropped under the
cgroup's limit), its capacity is exact (the image is sized so that `df` shows
EphemeralStorage MB free), and it is private (one filesystem per environment).

Making one costs ~1 ms (a copy of the ~60 KB mkfs wrote into a never-mounted template
image of that size, a loop device, a mount), and a pool keeps a few mounted per size
ahead of cold starts; `take()` usually just pops one (~3 µs). An
environment's filesystem is never reused: on release it is unmounted and its image deleted
(nothing it wrote survives), and the pool's task makes a fresh one.

On disk: `<state>/scratch/<server pid>/` (0700, root only) holds `<id>.img` and the mount
point `<id>/`, which bubblewrap binds at the sandbox's /tmp, and `template-<bytes>.img`
per image size (what mkfs wrote, never mounted). Once the sandbox's program has
run, the host's mount is dropped (`detach()`): bubblewrap copies the host's whole mount
table into every new sandbox (~17 µs a mount), so live environments must not grow it; the
filesystem lives on inside the sandbox and goes with it (the loop device clears itself).
At start-up the folders of servers that are no longer running are swept (unmounted,
deleted); at close, our own.

Sparse images cost the disk only what is written, so their sum is capped instead
(scratch_budget.py): the scheduler claims each environment's /tmp before it starts and
gives it back after its shutdown, a take without a claim claims for itself until release,
and the pool makes a ready one only if an environment could claim it.

Needs root, /dev/loop-control and mkfs.ext4; `check_scratch()` says what is missing, and the
sandbox falls back to a size-limited tmpfs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import dataclasses
import errno
import fcntl
import logging
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path

from ember.blocking import run_blocking
from ember.sandbox.scratch_budget import Image, Room, ScratchBudget

log = logging.getLogger("ember.sandbox")

DEFAULT_MB = 512  # Lambda's default EphemeralStorage: kept ready from the start
READY_PER_SIZE = 2  # mounted filesystems kept ahead, per size in use, at first
MAX_READY = 16  # ... doubled up to this each time cold starts find none ready
MAX_SIZES = 4  # sizes kept ready at once (the most recently asked for)
# The task waits this long after being woken: a take() wakes it during a cold start, and
# making the next filesystem then would compete with that cold start for the CPUs.
REFILL_DELAY = 0.1
# No journal (nothing to recover: a crash discards it), no online-resize reserve, inode
# tables left for nobody to zero (the sparse file reads as zeros), no discard of the file.
MKFS_OPTIONS = (
    "-q", "-F", "-b", "4096", "-m", "0", "-i", "16384", "-O", "^has_journal,^resize_inode",
    "-E", "lazy_itable_init=1,nodiscard",
)  # fmt: skip
MOUNT_OPTIONS = b"noinit_itable"

# <linux/loop.h>
_LOOP_CTL_GET_FREE = 0x4C82
_LOOP_CONFIGURE = 0x4C0A
_LO_FLAGS_AUTOCLEAR = 4  # the device detaches itself when unmounted
_LO_FLAGS_DIRECT_IO = 16  # no second copy of the data in the host's page cache
# struct loop_config { u32 fd, block_size; struct loop_info64 info; u64 reserved[8]; }:
# 304 bytes, info.lo_flags at 60 (after five u64 and three u32 of loop_info64).
_LOOP_CONFIG_SIZE = 304
_LOOP_FLAGS_OFFSET = 60
# <sys/mount.h>
_MS_NOSUID, _MS_NODEV, _MS_NOATIME = 2, 4, 1024
_MNT_DETACH = 2
_ATTEMPTS = 5  # image sizes tried until the free space is EphemeralStorage
# A scratch mount point, wherever its data dir is: .../scratch/<server pid>/<id>
_MOUNT_POINT = re.compile(r"/scratch/(\d+)/[0-9a-f]{16}$")
# A dead server's scratch mounts outside this data dir are swept once their folder has been
# unchanged this long (seconds).
STALE_AFTER = 60.0


class ScratchError(Exception):
    """A scratch filesystem could not be made."""


class ScratchFullError(ScratchError):
    """The data dir's disk cannot promise another /tmp of that size (scratch_budget)."""

    def __init__(self, size_mb: int, room: Room) -> None:
        super().__init__(
            f"The server's disk has no room for another {size_mb} MB /tmp ({room.describe()})"
        )
        self.size_mb = size_mb
        self.room = room


@dataclasses.dataclass(frozen=True, slots=True)
class ScratchStatistics:
    ready: dict[int, int]  # size MB -> mounted, unused filesystems
    made: int
    wiped: int
    to_wipe: int
    admitted: int = 0  # environments whose /tmp counts against the disk (scratch_budget)


@dataclasses.dataclass(frozen=True, slots=True)
class Scratch:
    """One environment's /tmp: `path` is the host folder to bind there."""

    id: str
    size_mb: int
    path: Path
    image: Path
    image_size: int = 0  # bytes: what the image may grow to


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _mount(source: str, target: Path) -> None:
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOATIME
    if _libc.mount(source.encode(), str(target).encode(), b"ext4", flags, MOUNT_OPTIONS) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {source} on {target}: {os.strerror(code)}")


def _unmount(target: Path) -> None:
    """Detach the mount now; the filesystem goes when the last sandbox using it has."""
    if _libc.umount2(str(target).encode(), _MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):  # not mounted
            raise OSError(code, f"umount {target}: {os.strerror(code)}")


def _attach(image: Path) -> tuple[int, str]:
    """A free loop device backed by `image` (autoclear, direct I/O): (its fd, its path).
    Another process may take the same free device first: then try the next."""
    image_fd = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
        try:
            for _ in range(16):
                number = fcntl.ioctl(control, _LOOP_CTL_GET_FREE)
                device = f"/dev/loop{number}"
                try:
                    fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                except FileNotFoundError:
                    os.mknod(device, 0o600 | 0o060000, os.makedev(7, number))  # no devtmpfs
                    fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                config = bytearray(_LOOP_CONFIG_SIZE)
                struct.pack_into("=I", config, 0, image_fd)
                struct.pack_into(
                    "=I", config, _LOOP_FLAGS_OFFSET, _LO_FLAGS_AUTOCLEAR | _LO_FLAGS_DIRECT_IO
                )
                try:
                    fcntl.ioctl(fd, _LOOP_CONFIGURE, bytes(config))
                except OSError as exc:
                    os.close(fd)
                    if exc.errno == errno.EBUSY:
                        continue
                    raise
                return fd, device
            raise OSError(errno.EBUSY, "no free loop device")
        finally:
            os.close(control)
    finally:
        os.close(image_fd)  # the device holds its own reference to the file


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as info:
        return [line.split()[4].replace("\\040", " ") for line in info]


def _mounts_under(folder: Path) -> list[Path]:
    """Mount points under `folder`, deepest first."""
    prefix = str(folder).rstrip("/") + "/"
    found = [Path(point) for point in _mount_points() if point.startswith(prefix)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _remove_folder(folder: Path) -> None:
    """Unmount everything under `folder`, then delete it (images included)."""
    for point in _mounts_under(folder):
        _unmount(point)
    shutil.rmtree(folder, ignore_errors=True)


def sweep(root: Path) -> None:
    """Remove the scratch folders of Ember servers that are no longer running
    (`<root>/<pid>`): a crashed server's mounts and images; and unmount any dead
    server's scratch filesystems elsewhere on this host."""
    if root.is_dir():
        for server in root.iterdir():
            if server.name.isdigit() and not Path(f"/proc/{server.name}").exists():
                _remove_folder(server)
    # A killed server's mounts whose data dir is elsewhere (or deleted, as tests' are) —
    # once its folder has been still a while: a pid that is not running names a server
    # only after the fact, and a folder that changed moments ago may be someone's in use.
    for point in _mount_points():
        found = _MOUNT_POINT.search(point)
        dead = found is not None and not Path(f"/proc/{found.group(1)}").exists()
        if dead and _still_for(Path(point).parent) >= STALE_AFTER:
            _unmount(Path(point))


def _still_for(folder: Path) -> float:
    """Seconds since `folder` last changed (infinite when it is gone)."""
    try:
        return time.time() - folder.stat().st_mtime
    except OSError:
        return float("inf")


def _mkfs() -> str:
    """mkfs.ext4's path: root's PATH may lack the sbin folders."""
    return shutil.which("mkfs.ext4") or shutil.which("mkfs.ext4", path="/usr/sbin:/sbin") or ""


def _make_fs(image: Path, size: int) -> None:
    """A fresh, never mounted ext4 filesystem of `size` bytes at `image`: a copy of the
    blocks mkfs wrote into this size's template (~60 KB of a sparse file, ~0.2 ms), where
    running mkfs costs a subprocess each time (~10 ms idle, and at nice 19 it starved
    behind a burst's cold starts for up to a second)."""
    template = _template(image.parent, size)
    # A new file each time: a loop device still detaching from the last one may write to it.
    image.unlink(missing_ok=True)
    with open(template, "rb") as source, open(image, "xb") as target:
        target.truncate(size)
        _copy_data(source.fileno(), target.fileno(), size)


def _template(folder: Path, size: int) -> Path:
    """This size's template image in `folder`, made by mkfs once (never mounted, so every
    copy is as mkfs left it; removed with the folder)."""
    template = folder / f"template-{size}.img"
    if template.is_file():
        return template
    making = folder / f"template-{size}.{uuid.uuid4().hex[:8]}.tmp"
    with open(making, "xb") as f:
        f.truncate(size)
    # At the lowest CPU priority: the pool refills while cold starts run, and must yield.
    result = subprocess.run(
        ["nice", "-n", "19", _MKFS or "mkfs.ext4", *MKFS_OPTIONS, str(making)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        making.unlink(missing_ok=True)
        raise ScratchError(f"mkfs.ext4 failed: {result.stderr.strip() or result.returncode}")
    os.replace(making, template)  # two threads racing make equal templates
    return template


def _copy_data(source: int, target: int, size: int) -> None:
    """Copy the data ranges of sparse file `source` into `target` (holes stay holes)."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(source, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data past `offset`
                return
            raise
        end = os.lseek(source, start, os.SEEK_HOLE)
        position = start
        while position < end:
            copied = os.copy_file_range(source, target, end - position, position, position)
            if copied == 0:
                raise ScratchError("the template image is shorter than expected")
            position += copied
        offset = end


_MKFS = _mkfs()


def _free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _first_guess(size_mb: int) -> int:
    """Image bytes for `size_mb` free: ext4 keeps ~1.6 % for inode tables and 2 % (at
    most 16 MB) back for delayed allocation; the first mount corrects the rest."""
    target = size_mb << 20
    return target + target // 64 + min(target // 50, 16 << 20) + (2 << 20)


class ScratchPool:
    """Filesystems for environments' /tmp, made ahead of time. `take()` and `release()`
    run on the event loop; `run()` is the task that refills and wipes; `close()` removes
    every one (blocking)."""

    def __init__(self, root: Path, ready: int = READY_PER_SIZE) -> None:
        self._root = root  # <state>/scratch/<server pid>
        self._ready_target = ready
        self._targets: dict[int, int] = {}  # size MB -> how many to keep ready, once grown
        self._ready: dict[int, list[Scratch]] = {DEFAULT_MB: []}  # size MB -> mounted, unused
        self._dirty: list[Scratch] = []  # released: to unmount and delete
        self._to_detach: list[Scratch] = []  # in use: unmount the host's copy only
        self._detached: set[str] = set()  # ids in use whose host copy is unmounted
        self._image_bytes: dict[int, int] = {}  # size MB -> image size that gives it free
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # set whenever one is made or wiped
        self._lock = threading.Lock()  # _closed against makes finishing in threads
        self._closed = False
        self._running = False
        self._made_count = 0
        self._wiped_count = 0
        self._budget = ScratchBudget(root, self._image_size)

    @classmethod
    def open(cls, state_dir: Path, ready: int = READY_PER_SIZE) -> ScratchPool:
        """Sweep leftovers of dead servers; our folder (blocking)."""
        base = state_dir / "scratch"
        sweep(base)
        root = base / str(os.getpid())
        _remove_folder(root)
        root.mkdir(parents=True, mode=0o700)
        os.chmod(base, 0o700)
        return cls(root, ready)

    # -- on the loop ------------------------------------------------------------------

    def claim(self, size_mb: int) -> None:
        """Count an environment's /tmp of `size_mb` against the disk until `unclaim()`, or
        raise ScratchFullError. The scheduler claims when it creates an environment."""
        refused = self._budget.claim(size_mb)
        if refused is not None:
            raise ScratchFullError(size_mb, refused)

    def unclaim(self, size_mb: int) -> None:
        self._budget.unclaim(size_mb)

    def fits(self, size_mb: int) -> bool:
        """Whether a claim of `size_mb` would be admitted now (claims nothing)."""
        return self._budget.fits(size_mb)

    def room(self) -> Room:
        """The data dir's disk as the budget sees it now."""
        return self._budget.room()

    async def take(self, size_mb: int) -> Scratch:
        """A mounted, empty filesystem of `size_mb` free: a ready one, else made now.
        Without a claim waiting for it, it is claimed here (ScratchFullError if it does
        not fit) until release()."""
        implicit = not self._budget.waiting(size_mb)
        if implicit:
            self.claim(size_mb)
        try:
            scratch = await self._take(size_mb)
        except BaseException:
            if implicit:
                self.unclaim(size_mb)
            raise
        image = Image(scratch.id, size_mb, scratch.image, scratch.image_size)
        self._budget.took(image, implicit=implicit)
        return scratch

    async def _take(self, size_mb: int) -> Scratch:
        ready = self._ready.pop(size_mb, [])
        self._ready[size_mb] = ready  # most recently asked for: last
        if len(self._ready) > MAX_SIZES:
            oldest = next(iter(self._ready))
            self._dirty += self._ready.pop(oldest)
            self._targets.pop(oldest, None)
        self._wake.set()
        if ready:
            return ready.pop()
        if self._ready_target:  # a burst outran the pool: keep more ready from now on
            grown = 2 * self._targets.get(size_mb, self._ready_target)
            self._targets[size_mb] = min(MAX_READY, grown)
        try:
            # (Cancelled meanwhile, the one made is left mounted until close().)
            return await run_blocking(self._make, size_mb)
        except OSError as exc:
            raise ScratchError(f"cannot make a {size_mb} MB /tmp: {exc}") from exc

    async def release(self, scratch: Scratch | None) -> None:
        """The environment is gone: wipe its filesystem (in the background if the pool's
        task runs, else now)."""
        if scratch is None:
            return
        self._budget.released(scratch.id)
        self._detached.discard(scratch.id)
        if self._running:
            self._dirty.append(scratch)
            self._wake.set()
        else:
            await run_blocking(self._discard, scratch)

    def detach(self, scratch: Scratch) -> None:
        """The sandbox has bound `scratch` at its /tmp: unmount the host's copy (the
        filesystem lives on in the sandbox, and goes with it). Every mount on the host
        costs every later sandbox's start ~17 µs (bubblewrap copies the host's mount
        table), so only ready filesystems stay mounted there. Once per scratch; only
        with the pool's task running (else the host's copy stays until release)."""
        if self._running and scratch.id not in self._detached:
            self._detached.add(scratch.id)
            self._to_detach.append(scratch)
            self._wake.set()

    async def run(self) -> None:
        """Refill and wipe until cancelled. A failure is logged and retried on the next
        take or release, never raised: cold starts then make their own."""
        self._running = True
        self._wake.set()  # fill the default size's pool now
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(REFILL_DELAY)
                self._wake.clear()
                try:
                    await self._tidy()
                except (OSError, ScratchError) as exc:
                    log.warning("cannot prepare /tmp filesystems: %s", exc)
        finally:
            self._running = False

    async def _tidy(self) -> None:
        while self._to_detach:
            await run_blocking(_unmount, self._to_detach.pop().path)
            self._changed.set()
        while self._dirty:
            await run_blocking(self._discard, self._dirty.pop())
            self._wiped_count += 1
            self._changed.set()
        for size_mb, ready in list(self._ready.items()):
            target = self._targets.get(size_mb, self._ready_target)
            # Only what one more environment could claim: the budget holds for the pool too.
            while (
                len(ready) < target
                and self._ready.get(size_mb) is ready
                and self._budget.fits(size_mb)
            ):
                made = await run_blocking(self._make, size_mb)
                if self._ready.get(size_mb) is ready:
                    ready.append(made)
                else:  # the size stopped being kept meanwhile
                    self._dirty.append(made)
                    self._wake.set()
                self._changed.set()

    async def wait_changed(self) -> None:
        """Until the pool's task next makes, wipes or detaches a filesystem."""
        self._changed.clear()
        await self._changed.wait()

    def statistics(self) -> ScratchStatistics:
        return ScratchStatistics(
            ready={size: len(ready) for size, ready in self._ready.items()},
            made=self._made_count,
            wiped=self._wiped_count,
            to_wipe=len(self._dirty),
            admitted=self._budget.admitted(),
        )

    # -- blocking ---------------------------------------------------------------------

    def _image_size(self, size_mb: int) -> int:
        """Bytes of a `size_mb` image: as learnt, else the first guess."""
        return self._image_bytes.get(size_mb) or _first_guess(size_mb)

    def _make(self, size_mb: int) -> Scratch:
        name = uuid.uuid4().hex[:16]
        scratch = Scratch(name, size_mb, self._root / name, self._root / f"{name}.img")
        scratch.path.mkdir(mode=0o700)
        try:
            image_size = self._format_and_mount(scratch)
            scratch = dataclasses.replace(scratch, image_size=image_size)
            os.chmod(scratch.path, 0o1777)
        except BaseException:
            self._discard(scratch)
            raise
        with self._lock:
            if self._closed:  # close() ran while this was being made
                self._discard(scratch)
                raise ScratchError("the pool is closed")
            self._made_count += 1
        return scratch

    def _format_and_mount(self, scratch: Scratch) -> int:
        """mkfs and mount, resizing the image until `df` shows exactly the size free
        (learnt once per size): the image's size."""
        target = scratch.size_mb << 20
        size = self._image_bytes.get(scratch.size_mb) or _first_guess(scratch.size_mb)
        for _ in range(_ATTEMPTS):
            _make_fs(scratch.image, size)
            fd, device = _attach(scratch.image)
            try:
                _mount(device, scratch.path)
            finally:
                os.close(fd)  # mounted, the device stays; if not, autoclear frees it
            (scratch.path / "lost+found").rmdir()  # Lambda's /tmp starts empty
            free = _free_bytes(scratch.path)
            if free > 2 * target + (64 << 20):  # not our filesystem: it was unmounted under us
                raise ScratchError(f"the {scratch.size_mb} MB /tmp was unmounted while made")
            if target - (1 << 20) < free <= target:
                self._image_bytes[scratch.size_mb] = size
                return size
            _unmount(scratch.path)
            size += (target - free) // 4096 * 4096 - (512 << 10 if free < target else 0)
        raise ScratchError(f"cannot size an ext4 image to {scratch.size_mb} MB free")

    def _discard(self, scratch: Scratch) -> None:
        _unmount(scratch.path)
        with contextlib.suppress(FileNotFoundError):
            scratch.path.rmdir()
        scratch.image.unlink(missing_ok=True)

    def close(self) -> None:
        """Unmount and delete every filesystem of this pool, used or not (blocking; the
        environments are gone)."""
        with self._lock:
            self._closed = True
        self._ready.clear()
        self._dirty.clear()
        _remove_folder(self._root)


def check_scratch(state_dir: Path) -> str:
    """Make, use and remove one small scratch filesystem: "" or why this host cannot."""
    if os.geteuid() != 0:
        return "needs root (loop devices and mounts)"
    if not os.path.exists("/dev/loop-control"):
        return "no /dev/loop-control (loop devices)"
    if not _MKFS:
        return "mkfs.ext4 is missing (Debian/Ubuntu: apt-get install e2fsprogs)"
    folder = state_dir / "scratch" / str(os.getpid())  # a crash leaves it to the sweep
    pool = ScratchPool(folder, ready=0)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = pool._make(8)
        (scratch.path / "probe").write_bytes(b"x")
    except (OSError, ScratchError) as exc:
        return str(exc)
    finally:
        pool.close()
    return ""
