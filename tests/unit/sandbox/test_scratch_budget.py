"""The /tmp budget: what admitted images may still grow by, against the data dir's free
space less its reserve (fake disks: no mounts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ember.sandbox.scratch_budget import RESERVE_MAX, Image, ScratchBudget, reserve_for

MB = 1 << 20


class FakeDisk:
    """A filesystem of `total` MB, `free` MB available, and what each image holds."""

    def __init__(self, total: int, free: int) -> None:
        self.total = total * MB
        self.free = free * MB
        self.held: dict[Path, int] = {}
        self.stats = 0

    def statvfs(self, _folder: Path) -> tuple[int, int]:
        return self.total, self.free

    def allocated(self, path: Path) -> int:
        self.stats += 1
        return self.held.get(path, 0)


def _budget(disk: FakeDisk) -> ScratchBudget:
    # An image of N MB is N + 10 MB, so the arithmetic below reads easily.
    return ScratchBudget(Path("/data"), lambda mb: (mb + 10) * MB, disk.statvfs, disk.allocated)


def _image(name: str, size_mb: int) -> Image:
    return Image(name, size_mb, Path(f"/data/{name}.img"), (size_mb + 10) * MB)


def test_the_reserve_is_a_tenth_or_one_gib_whichever_is_smaller() -> None:
    assert reserve_for(800 * MB) == 80 * MB
    assert reserve_for(100 << 30) == RESERVE_MAX == 1 << 30


def test_claims_are_refused_once_their_images_would_not_fit() -> None:
    disk = FakeDisk(total=1000, free=1000)  # reserve 100 MB: 900 MB to promise
    budget = _budget(disk)
    assert budget.claim(512) is None  # 522 MB promised
    refused = budget.claim(512)
    assert refused is not None
    assert (refused.free, refused.reserve, refused.promised) == (1000 * MB, 100 * MB, 522 * MB)
    assert "522 MB promised" in refused.describe()
    assert budget.claim(300) is None  # 832 of 900
    assert budget.admitted() == 2
    budget.unclaim(512)
    assert budget.claim(512) is None  # released: room again


def test_a_take_fills_a_claim_and_the_image_counts_until_the_claim_goes() -> None:
    disk = FakeDisk(total=1000, free=1000)
    budget = _budget(disk)
    assert budget.claim(512) is None
    assert budget.waiting(512) == 1
    budget.took(_image("a", 512))
    assert budget.waiting(512) == 0
    assert budget.room().promised == 522 * MB  # counted once, not as claim and image
    budget.released("a")
    assert budget.room().promised == 522 * MB  # still claimed: its environment ends next
    budget.unclaim(512)
    assert budget.room().promised == 0


def test_a_take_without_a_claim_claims_for_itself_until_released() -> None:
    budget = _budget(FakeDisk(total=1000, free=1000))
    budget.claim(512)  # a scheduler claim
    budget.took(_image("mine", 512))
    budget.claim(100)
    budget.took(_image("own", 100), implicit=True)  # e.g. a take outside the scheduler
    assert budget.admitted() == 2
    budget.released("own")
    assert budget.admitted() == 1
    assert budget.room().promised == 522 * MB


def test_what_an_image_already_holds_is_counted_once() -> None:
    """Written bytes have left `free` already: only what the image may still grow by is
    promised, so a full /tmp does not count twice (read from the image, ~2 µs each)."""
    disk = FakeDisk(total=1000, free=1000)
    budget = _budget(disk)
    budget.claim(300)
    budget.took(_image("a", 300))  # may grow to 310 MB
    assert budget.fits(300)
    assert disk.stats == 0  # the upper bound sufficed: no stat
    disk.held[Path("/data/a.img")] = 300 * MB  # it wrote 300 MB
    disk.free = 700 * MB
    # Upper bound: 700 - 100 - 310 = 290 < 310; exact: 700 - 100 - 10 = 590.
    assert budget.fits(300)
    assert disk.stats == 1
    assert budget.claim(300) is None
    refused = budget.claim(300)
    assert refused is not None
    assert refused.promised == (10 + 310) * MB


def test_a_released_image_grows_no_more() -> None:
    disk = FakeDisk(total=1000, free=1000)
    budget = _budget(disk)
    budget.claim(512)
    budget.took(_image("a", 512))
    budget.released("a")
    budget.unclaim(512)
    budget.released("a")  # twice: nothing more
    assert budget.room().promised == 0
    assert budget.admitted() == 0


@pytest.mark.parametrize(("free", "fits"), [(1000, True), (622, True), (621, False)])
def test_fits_is_what_one_more_claim_would_get(free: int, fits: bool) -> None:
    # 512 MB needs a 522 MB image: free - 100 MB reserve - 0 promised >= 522.
    assert _budget(FakeDisk(total=1000, free=free)).fits(512) is fits
