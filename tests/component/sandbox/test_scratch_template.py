"""/tmp filesystems copied from a per-size template image instead of one mkfs each: every
copy is a fresh, empty filesystem of its own (nothing written in one shows in another),
of exactly its size, and the template itself is never mounted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ember.sandbox.scratch import ScratchPool, check_scratch


@pytest.fixture
def state(tmp_path: Path) -> Path:
    problem = check_scratch(tmp_path)
    if problem:
        pytest.skip(f"no loop-mounted /tmp here: {problem}")
    return tmp_path


def _mount_sources() -> list[str]:
    with open("/proc/self/mountinfo") as info:
        return [line.split(" - ")[1].split()[1] for line in info]


def test_copies_of_the_template_are_fresh_and_independent(state: Path) -> None:
    pool = ScratchPool.open(state, ready=0)
    try:
        first = pool._make(16)
        (first.path / "secret").write_bytes(b"x" * 100_000)
        os.sync()
        second = pool._make(16)
        assert os.listdir(second.path) == []  # Lambda's /tmp starts empty
        assert first.image != second.image
        assert os.stat(first.image).st_ino != os.stat(second.image).st_ino
        stat = os.statvfs(second.path)
        assert (16 << 20) - (1 << 20) < stat.f_bavail * stat.f_frsize <= 16 << 20
        templates = list(pool._root.glob("template-*.img"))
        assert templates  # made once per image size, kept for the next copies
        # Sparse: only what mkfs wrote, never what an environment wrote.
        assert all(t.stat().st_blocks * 512 < 1 << 20 for t in templates)
        mounted = _mount_sources()
        assert not any("template-" in source for source in mounted)
    finally:
        pool.close()
    assert not pool._root.exists()  # templates go with the pool's folder
