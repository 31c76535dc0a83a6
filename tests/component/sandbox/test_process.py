"""ProcessSandbox on this host's real bubblewrap and cgroups: start order, freezing, limits,
and killing a whole environment."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ember.sandbox import Capabilities, Isolation, ProcessSandbox, SandboxSpec, probe
from ember.sandbox.cgroups import CgroupError

PYTHON_PREFIX = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
PYTHON = f"/var/lang/bin/{os.path.basename(os.path.realpath(sys.executable))}"


@pytest.fixture(scope="module")
def host() -> Iterator[Capabilities]:
    with tempfile.TemporaryDirectory() as state:
        found = probe(Isolation.AUTO, Path(state))
        if not found.namespaces or found.tree is None:
            found.close()
            pytest.skip(f"needs bubblewrap and cgroups: {found.summary()}")
        yield found
        found.close()


def _spec(argv: list[str], **kwargs: object) -> SandboxSpec:
    return SandboxSpec(
        argv=argv,
        env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "/var/lang/lib"},
        cwd="/",
        memory_mb=kwargs.pop("memory_mb", 256),  # type: ignore[arg-type]
        binds=[(PYTHON_PREFIX, "/var/lang")],
        **kwargs,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def launched(
    spec: SandboxSpec, host: Capabilities
) -> AsyncIterator[tuple[ProcessSandbox, list[bytes]]]:
    sandbox = await ProcessSandbox.launch(spec, host)
    output: list[bytes] = []
    sandbox.on_output(output.append)
    try:
        yield sandbox, output
    finally:
        sandbox.kill()
        await sandbox.wait()
        await sandbox.close()


async def eventually(condition: Callable[[], bool], limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        # Polling with a deadline: these are the states of other processes, not events.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _frozen(sandbox: ProcessSandbox) -> bool:
    """Whether the kernel reports the environment's freezer cgroup as frozen (v1 or v2)."""
    for line in Path(f"/proc/{sandbox.pid}/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if "freezer" in controllers.split(","):
            return Path(f"/sys/fs/cgroup/freezer{path}/freezer.state").read_text() == "FROZEN\n"
        if number == "0" and path != "/":
            return "frozen 1" in Path(f"/sys/fs/cgroup{path}/cgroup.events").read_text()
    raise AssertionError("no freezer cgroup found")


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(30):
            await scenario()

    asyncio.run(bounded())


def test_companions_start_first_and_the_program_waits_for_release(host: Capabilities) -> None:
    async def scenario() -> None:
        spec = _spec(
            ["/bin/sh", "-c", "echo main started"],
            companions=["/usr/bin/false"],
        )
        exits: list[tuple[str, int]] = []
        async with launched(spec, host) as (sandbox, output):
            sandbox.on_companion_exit(lambda name, status: exits.append((name, status)))
            await eventually(lambda: exits == [("false", 1)])
            # The companion's exit was reported, so the launcher is past starting it and
            # holds: nothing in the environment runs the program yet.
            running = [_cmdline(pid) for pid in sandbox.processes()]
            assert not [c for c in running if c.startswith(b"/bin/sh -c echo main")], running
            assert b"main started" not in b"".join(output)
            sandbox.release()
            assert await sandbox.wait() == 0
            sandbox.drain_output()
            assert b"main started" in b"".join(output)

    run(scenario)


def test_frozen_processes_make_no_progress(host: Capabilities) -> None:
    async def scenario() -> None:
        spec = _spec(["/bin/sh", "-c", "while :; do echo tick; sleep 0.01; done"])
        async with (
            launched(spec, host) as (sandbox, output),
            launched(spec, host) as (_, twin_output),
        ):
            await eventually(lambda: len(output) > 3)
            sandbox.freeze()
            await eventually(lambda: _frozen(sandbox))  # FREEZING -> FROZEN
            sandbox.drain_output()  # what was written before the freeze
            frozen_at = len(b"".join(output))
            # While a running twin ticks 20 times, the frozen one does not tick once.
            ticks = len(b"".join(twin_output))
            await eventually(lambda: len(b"".join(twin_output)) >= ticks + 20 * len(b"tick\n"))
            sandbox.drain_output()
            assert len(b"".join(output)) == frozen_at
            sandbox.thaw()
            await eventually(lambda: len(b"".join(output)) > frozen_at)

    run(scenario)


def test_memory_limit_kills_and_is_reported_as_out_of_memory(host: Capabilities) -> None:
    async def scenario() -> None:
        hog = "b = [bytearray(b'x') * (1 << 20) for _ in range(400)]"
        async with launched(_spec([PYTHON, "-S", "-c", hog], memory_mb=128), host) as (sandbox, _):
            assert await sandbox.wait() == -9
            assert sandbox.out_of_memory()
            assert 100 <= sandbox.max_memory_used_mb() <= 128

    run(scenario)


def test_unreadable_counters_do_not_turn_into_zeros(host: Capabilities) -> None:
    """The OOM counter and the peak cannot be read: an OOM kill is still one, and the
    peak is never "0 MB"."""

    def broken() -> int:
        raise CgroupError("cannot read")

    async def scenario() -> None:
        hog = "b = [bytearray(b'x') * (1 << 20) for _ in range(400)]"
        async with launched(_spec([PYTHON, "-S", "-c", hog], memory_mb=128), host) as (sandbox, _):
            assert await sandbox.wait() == -9
            group = sandbox._group
            assert group is not None
            group.oom_kills = broken  # type: ignore[method-assign]
            group.peak_bytes = broken  # type: ignore[method-assign]
            assert sandbox.out_of_memory()
            assert sandbox.max_memory_used_mb() > 0

    run(scenario)


def test_kill_ends_everything_in_the_namespace(host: Capabilities) -> None:
    async def scenario() -> None:
        spec = _spec(["/bin/sh", "-c", "sleep 60 & sleep 60 & echo $$; wait"])
        async with launched(spec, host) as (sandbox, output):
            await eventually(lambda: bool(output))
            assert len(sandbox.processes()) >= 4  # bubblewrap, its pid 1, sh, two sleeps
            sandbox.kill()
            await sandbox.wait()
            await eventually(lambda: not sandbox.processes())

    run(scenario)
