"""The pids total on the real cgroup filesystem: the server's group above environments' holds
it, and a thread bomb in one environment stops there, short of its own 1,024."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from ember.sandbox import cgroups

TOTAL = 40

BOMB = """
import sys, threading
for path in sys.argv[1:]:  # into the environment's group, still single-threaded
    with open(path, "w") as tasks:
        tasks.write("0")
held, threads = threading.Event(), 0
threading.stack_size(64 * 1024)
while threads < 2000:
    try:
        threading.Thread(target=held.wait, daemon=True).start()
    except RuntimeError:
        break
    threads += 1
print(threads)
held.set()
"""


@pytest.fixture
def tree() -> Iterator[cgroups.Tree]:
    try:
        found = cgroups.open_tree(str(os.getpid()), pids_total=TOTAL)
    except cgroups.CgroupError as exc:
        pytest.skip(f"no writable cgroups: {exc}")
    try:
        yield found
    finally:
        found.close()


def test_the_total_is_set_and_read_back(tree: cgroups.Tree) -> None:
    assert tree.pids_total == tree.read_pids_total() == TOTAL


def test_a_bomb_stops_at_the_total_not_at_its_own_limit(tree: cgroups.Tree) -> None:
    group = tree.create(uuid.uuid4().hex, cgroups.Limits(memory_bytes=256 << 20, pids_max=1024))
    try:
        done = subprocess.run(
            [sys.executable, "-c", BOMB, *group.enter_files()],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert 0 < int(done.stdout) < TOTAL, done.stdout
    finally:
        group.remove()
