"""How much /tmp the data dir's disk can promise: admission for scratch filesystems.

Each environment's /tmp is a sparse image (scratch.py): it costs the disk nothing until the
function writes, and may then grow to its full size. Nothing capped their sum, so one
function filling its 512 MB /tmp filled a 256 MB data dir, and Ember could no longer store
code or logs. The rule: what every admitted /tmp may still grow by, plus the new one's
image, must fit in the free space of the data dir's filesystem less a reserve for Ember's
own files (10 % of the filesystem or 1 GiB, whichever is smaller). A /tmp that does not fit
is refused before its environment starts (the scheduler answers TooManyRequestsException).

Admitted means claimed (by the scheduler, from the environment's creation until its
shutdown) or taken (mounted for a sandbox). Ready images in the pool are not counted: they
hold ~0.2 MB each and grow only once taken. Checking costs one statvfs (~2 µs); only when
the upper bound (every admitted image at full size) does not fit does it stat each image in
use to learn what it already holds (~2 µs each).

Measured against the alternative, `fallocate` on each image (a real reservation): 0.3 to 1.2 ms
for 512 MB and 6 to 13 ms for 10 GB per image, as much again to delete it, and every ready and
idle environment then holds its whole size of real disk.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

RESERVE_FRACTION = 10  # the reserve: 1/10 of the data dir's filesystem...
RESERVE_MAX = 1 << 30  # ... or 1 GiB, whichever is smaller


def reserve_for(total: int) -> int:
    """Bytes kept free for Ember's own files on a filesystem of `total` bytes."""
    return min(total // RESERVE_FRACTION, RESERVE_MAX)


@dataclasses.dataclass(frozen=True, slots=True)
class Room:
    """The data dir's filesystem as the budget sees it, in bytes."""

    total: int
    free: int  # available to Ember now
    reserve: int
    promised: int  # what admitted /tmp filesystems may still grow by

    @property
    def available(self) -> int:
        """Bytes a new /tmp image may take."""
        return self.free - self.reserve - self.promised

    def describe(self) -> str:
        return (
            f"{self.free >> 20} MB free on the data dir's disk, {self.reserve >> 20} MB kept "
            f"in reserve, {self.promised >> 20} MB promised to the /tmp of live environments"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Image:
    """One /tmp image in use: its file and the size it may grow to."""

    id: str
    size_mb: int
    path: Path
    size: int  # bytes


def _free(folder: Path) -> tuple[int, int]:
    """(total, available) bytes of the filesystem holding `folder`."""
    info = os.statvfs(folder)
    return info.f_blocks * info.f_frsize, info.f_bavail * info.f_frsize


def _allocated(path: Path) -> int:
    """Bytes of disk the sparse image holds already."""
    return os.stat(path).st_blocks * 512


class ScratchBudget:
    """Claims and images in use against the data dir's free space. Runs on the loop."""

    def __init__(
        self,
        folder: Path,
        image_bytes: Callable[[int], int],
        free: Callable[[Path], tuple[int, int]] = _free,
        allocated: Callable[[Path], int] = _allocated,
    ) -> None:
        self._folder = folder  # on the data dir's filesystem
        self._image_bytes = image_bytes  # size MB -> bytes of its image
        self._free = free  # seams for tests
        self._allocated = allocated
        self._claims: collections.Counter[int] = collections.Counter()  # size MB -> claims
        self._taken: collections.Counter[int] = collections.Counter()  # size MB -> in use
        self._in_use: dict[str, Image] = {}
        self._implicit: set[str] = set()  # taken without a claim: claimed by take()

    def claim(self, size_mb: int) -> Room | None:
        """Count a /tmp of `size_mb` if it fits: None; else the room that refused it."""
        wanted = self._image_bytes(size_mb)
        room = self.room(wanted)
        if room.available < wanted:
            return room
        self._claims[size_mb] += 1
        return None

    def unclaim(self, size_mb: int) -> None:
        self._claims[size_mb] -= 1
        if self._claims[size_mb] <= 0:
            del self._claims[size_mb]

    def waiting(self, size_mb: int) -> int:
        """Claims of `size_mb` whose image is not taken yet."""
        return max(0, self._claims[size_mb] - self._taken[size_mb])

    def took(self, image: Image, *, implicit: bool = False) -> None:
        """`image` is mounted for a sandbox; `implicit`: its claim was made for the take
        alone (no environment claimed it), and goes with the image."""
        self._taken[image.size_mb] += 1
        self._in_use[image.id] = image
        if implicit:
            self._implicit.add(image.id)

    def released(self, image_id: str) -> None:
        """The sandbox is gone: the image grows no more (its bytes are in `free`)."""
        image = self._in_use.pop(image_id, None)
        if image is None:
            return
        self._taken[image.size_mb] -= 1
        if image_id in self._implicit:
            self._implicit.discard(image_id)
            self.unclaim(image.size_mb)

    def fits(self, size_mb: int) -> bool:
        wanted = self._image_bytes(size_mb)
        return self.room(wanted).available >= wanted

    def room(self, wanted: int = 0) -> Room:
        """The room now; `promised` exact (a stat per image in use) only when the upper
        bound leaves no room for `wanted` more bytes."""
        total, free = self._free(self._folder)
        reserve = reserve_for(total)
        waiting = sum(
            max(0, count - self._taken[size]) * self._image_bytes(size)
            for size, count in self._claims.items()
        )
        upper = waiting + sum(image.size for image in self._in_use.values())
        if free - reserve - upper >= wanted:
            return Room(total, free, reserve, upper)
        held = 0
        for image in self._in_use.values():
            with contextlib.suppress(OSError):  # unknown: count it whole
                held += min(image.size, self._allocated(image.path))
        return Room(total, free, reserve, upper - held)

    def admitted(self) -> int:
        """Environments whose /tmp is counted (claimed, or taken without a claim)."""
        return sum(self._claims.values())
