"""The /tmp filesystems on this host's real loop devices: exact size, wiped on release,
refilled by the pool's task, and nothing left after close() or a crash."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ember.sandbox import Isolation, ProcessSandbox, SandboxSpec, probe
from ember.sandbox.scratch import ScratchFullError, ScratchPool, check_scratch


@pytest.fixture
def state(tmp_path: Path) -> Path:
    problem = check_scratch(tmp_path)
    if problem:
        pytest.skip(f"no loop-mounted /tmp here: {problem}")
    return tmp_path


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as info:
        return any(line.split()[4] == str(path) for line in info)


def _dead_pid() -> int:
    pid = 4_000_000
    while Path(f"/proc/{pid}").exists():
        pid += 1
    return pid


def test_a_filesystem_holds_exactly_its_size_then_enospc(state: Path) -> None:
    pool = ScratchPool.open(state, ready=0)
    try:
        scratch = asyncio.run(pool.take(64))
        info = os.statvfs(scratch.path)
        free = info.f_bavail * info.f_frsize
        assert (63 << 20) < free <= 64 << 20
        assert os.listdir(scratch.path) == []
        assert os.stat(scratch.path).st_mode & 0o7777 == 0o1777
        written = 0
        with (  # noqa: PT012
            pytest.raises(OSError, match="No space left") as caught,
            open(scratch.path / "fill", "wb") as f,
        ):
            while written < 100:
                f.write(b"x" * (1 << 20))
                f.flush()
                written += 1
        assert caught.value.errno == errno.ENOSPC
        assert 62 <= written <= 64
    finally:
        pool.close()


def test_release_wipes_and_the_task_refills(state: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool.open(state, ready=1)
        pool._ready.clear()  # only the size this test asks for
        runner = asyncio.create_task(pool.run())
        try:
            first = await pool.take(32)
            (first.path / "secret").write_text("x")
            await pool.release(first)
            async with asyncio.timeout(30):
                while pool.statistics().wiped < 1 or not pool.statistics().ready.get(32):
                    await pool.wait_changed()
            assert not _mounted(first.path)
            assert not first.image.exists()
            second = await pool.take(32)  # a ready one: a fresh filesystem
            assert second.path != first.path
            assert os.listdir(second.path) == []
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            pool.close()

    asyncio.run(scenario())


def test_close_leaves_nothing(state: Path) -> None:
    pool = ScratchPool.open(state, ready=0)
    scratch = asyncio.run(pool.take(32))
    pool.close()
    assert not _mounted(scratch.path)
    assert not (state / "scratch" / str(os.getpid())).exists()


def test_a_dead_servers_leftovers_are_swept_at_the_next_start(state: Path) -> None:
    dead = state / "scratch" / str(_dead_pid())
    dead.mkdir(parents=True)
    crashed = ScratchPool(dead, ready=0)  # as a server that was then SIGKILLed left it
    left = asyncio.run(crashed.take(32))
    assert _mounted(left.path)
    pool = ScratchPool.open(state)
    try:
        assert not _mounted(left.path)
        assert not dead.exists()
    finally:
        pool.close()


def test_a_dead_servers_mounts_elsewhere_are_swept(state: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "deleted-data-dir" / "scratch" / str(_dead_pid())
    elsewhere.mkdir(parents=True)
    left = asyncio.run(ScratchPool(elsewhere, ready=0).take(32))
    # A server that died a while ago: its folder has been still longer than STALE_AFTER.
    an_hour_ago = time.time() - 3600
    os.utime(elsewhere, (an_hour_ago, an_hour_ago))
    pool = ScratchPool.open(state)
    try:
        assert not _mounted(left.path)
    finally:
        pool.close()


@pytest.fixture
def small_disk(state: Path, tmp_path: Path) -> Iterator[Path]:
    """A data dir on a 100 MB filesystem (a tmpfs): 10 MB reserve, room for two 32 MB
    images (~35 MB each) and not three."""
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_tmp_the_disk_cannot_promise_is_refused_until_one_is_released(
    small_disk: Path,
) -> None:
    async def scenario() -> None:
        pool = ScratchPool.open(small_disk, ready=0)
        try:
            first = await pool.take(32)  # claimed by the take itself
            pool.claim(32)  # an environment admitted, its image not taken yet
            with pytest.raises(ScratchFullError, match="no room for another 32 MB /tmp"):
                pool.claim(32)
            await pool.take(32)  # the claim's image: not checked again
            with pytest.raises(ScratchFullError):
                await pool.take(32)
            await pool.release(first)
            assert not first.image.exists()
            assert pool.statistics().admitted == 1
            await pool.take(32)  # room again
        finally:
            pool.close()

    asyncio.run(scenario())


def _fill(path: Path, mb: int) -> None:
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(b"x" * (1 << 20))
        f.flush()
        os.fsync(f.fileno())


def test_what_a_tmp_already_holds_is_counted_once(small_disk: Path) -> None:
    """A /tmp's written bytes have left the disk's free space: the budget counts only what
    it may still grow by, so a full /tmp does not refuse the next one twice over."""

    async def scenario() -> None:
        pool = ScratchPool.open(small_disk, ready=0)
        try:
            full = await pool.take(32)
            _fill(full.path / "fill", 30)
            # ~73 MB free - 10 MB reserve - 35 MB image at full size: no room for another;
            # but 30 MB of that image are among the used bytes already: ~58 MB of room.
            assert pool.room().free < (75 << 20)
            await pool.take(32)
            with pytest.raises(ScratchFullError):
                await pool.take(32)
        finally:
            pool.close()

    asyncio.run(scenario())


def test_the_pool_keeps_ready_only_what_the_disk_could_promise(small_disk: Path) -> None:
    async def scenario() -> None:
        pool = ScratchPool.open(small_disk, ready=2)
        try:
            await pool._tidy()  # the default 512 MB size: not one would fit
            assert pool.statistics().ready == {512: 0}
            assert pool.statistics().made == 0
        finally:
            pool.close()

    asyncio.run(scenario())


def _scratch_mounts() -> list[str]:
    mine = f"/scratch/{os.getpid()}/"
    with open("/proc/self/mountinfo") as info:
        return [line.split()[4] for line in info if mine in line.split()[4]]


def test_a_running_sandbox_keeps_its_tmp_after_the_hosts_copy_goes(tmp_path: Path) -> None:
    """Once the program ran, the host's mount is dropped (it would cost every later
    sandbox's start); the sandbox's /tmp lives on, and is wiped when it ends."""
    host = probe(Isolation.AUTO, tmp_path / "state")
    if host.scratch is None or host.bwrap is None:
        host.close()
        pytest.skip(f"no loop-mounted /tmp here: {host.scratch_problem}")
    signals = tmp_path / "signals"
    signals.mkdir()
    script = (
        "echo kept > /tmp/f && echo written && "
        "while [ ! -e /var/task/go ]; do sleep 0.01; done; cat /tmp/f; df -k /tmp"
    )
    spec = SandboxSpec(
        argv=["/bin/sh", "-c", script],
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
        memory_mb=128,
        tmp_mb=32,
        binds=[(str(signals), "/var/task")],
    )
    pool = host.scratch

    async def scenario() -> None:
        runner = asyncio.create_task(pool.run())
        try:
            async with asyncio.timeout(30):
                sandbox = await ProcessSandbox.launch(spec, host)
                output: list[bytes] = []
                sandbox.on_output(output.append)
                # Polling with a deadline: another process's output, not an event of ours.
                while b"written" not in b"".join(output):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                in_use = set(_scratch_mounts())
                sandbox.freeze()
                while set(_scratch_mounts()) & in_use == in_use:
                    await pool.wait_changed()
                sandbox.thaw()
                (signals / "go").touch()
                assert await sandbox.wait() == 0
                sandbox.drain_output()
                text = b"".join(output).decode()
                assert "kept" in text  # the file outlived the host's copy of the mount
                assert " /tmp" in text.splitlines()[-1]
                wiped = pool.statistics().wiped
                assert pool.statistics().admitted == 1  # its /tmp counts against the disk
                await sandbox.close()
                assert pool.statistics().admitted == 0  # ... until the sandbox is gone
                while pool.statistics().wiped == wiped:
                    await pool.wait_changed()
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        host.close()
    assert _scratch_mounts() == []
