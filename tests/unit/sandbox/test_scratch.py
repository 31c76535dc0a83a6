"""Where /tmp cannot be on disk, what Ember says and does instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from ember.sandbox import Capabilities, Isolation
from ember.sandbox import scratch as scratch_module
from ember.sandbox.scratch import check_scratch


def test_without_root_there_is_no_disk_tmp_and_it_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert check_scratch(tmp_path) == "needs root (loop devices and mounts)"
    assert not (tmp_path / "scratch").exists()


def test_the_fallback_is_a_tmpfs_counted_as_memory() -> None:
    host = Capabilities(
        mode=Isolation.AUTO,
        cores=2,
        bwrap="/usr/bin/bwrap",
        scratch_problem="needs root (loop devices and mounts)",
    )
    line = next(g for g in host.guarantees() if g.what == "/tmp size")
    assert not line.held
    assert "needs root" in line.how
    assert "tmpfs" in line.how
    assert "/tmp in memory (needs root" in host.summary()


def test_the_image_guess_leaves_room_for_ext4s_own_tables() -> None:
    for size_mb in (8, 512, 10240):
        guess = scratch_module._first_guess(size_mb)
        assert size_mb << 20 < guess < (size_mb << 20) * 1.06 + (3 << 20)
