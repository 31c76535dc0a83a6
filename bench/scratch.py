"""What an environment's /tmp costs a cold start: `python -m bench.scratch` (root).

Rows, medians of BENCH_SCRATCH_ROUNDS (default 40) samples, alternating so that drift
hits all alike:
- bubblewrap running /bin/true with no /tmp at all (the floor), with today's fallback
  tmpfs, and with a disk filesystem bound at /tmp (the filesystem made beforehand);
- taking a filesystem from the ready pool, and making one on demand (an empty pool);
- wiping one (unmount, delete the image: the pool's task does it off the cold path);
- writing 200 MB to each kind of /tmp from a 128 MB cgroup (the tmpfs one is OOM-killed).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ember.sandbox import bwrap, scratch
from ember.sandbox.capabilities import Isolation, probe

_DEVNULL = os.open(os.devnull, os.O_WRONLY)  # bubblewrap's pid report: not needed here
PYTHON = "/usr/bin/python3"  # one the sandbox sees (/usr is bound)
ROUNDS = int(os.environ.get("BENCH_SCRATCH_ROUNDS", "40"))
WRITE_200MB = (
    "import os\n"
    "with open('/tmp/f', 'wb') as f:\n"
    "    for _ in range(200): f.write(b'x' * (1 << 20))\n"
    "    f.flush(); os.fsync(f.fileno())\n"
)


def _argv(bwrap_path: str, setpriv: str | None, tmp: str | None, program: list[str]) -> list[str]:
    args = bwrap.command(
        bwrap_path,
        binds=(),
        identity=None,
        tmp_bytes=512 << 20,
        tmp_dir=None if tmp in (None, "none") else tmp,
        cwd="/",
        info_fd=_DEVNULL,
        unprivileged=setpriv is None,
    )
    if tmp == "none":  # the floor: no /tmp mount at all
        at = args.index("--tmpfs")
        del args[at - 4 : at + 2]
    prefix = bwrap.drop_privileges(setpriv) if setpriv else []
    return args + prefix + program


def _ms(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL, pass_fds=(_DEVNULL,))
    return (time.perf_counter() - start) * 1000


def _row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p25, p75 = ordered[len(ordered) // 4], ordered[3 * len(ordered) // 4]
    return f"{name:<48} {statistics.median(samples):8.3f} ms  [{p25:.3f}..{p75:.3f}]"


async def _pool_rows(state: Path) -> tuple[list[str], scratch.Scratch]:
    pool = scratch.ScratchPool.open(state)
    runner = asyncio.create_task(pool.run())
    taken: list[float] = []
    made: list[float] = []
    wiped: list[float] = []
    kept = await pool.take(512)  # for the bwrap rows
    for _ in range(ROUNDS):
        while not pool.statistics().ready.get(512):  # let the refill catch up
            await pool.wait_changed()
        start = time.perf_counter()
        one = await pool.take(512)
        taken.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        fresh = await asyncio.to_thread(pool._make, 512)
        made.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await asyncio.to_thread(pool._discard, fresh)
        wiped.append((time.perf_counter() - start) * 1000)
        await pool.release(one)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    rows = [
        _row("take a ready /tmp from the pool", taken),
        _row("make a 512 MB /tmp on demand (empty pool)", made),
        _row("wipe one (unmount, delete; off the cold path)", wiped),
    ]
    pool._ready.clear()  # close() below must keep `kept`
    return rows, kept


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench.scratch: run as root (loop devices)")
    with tempfile.TemporaryDirectory(prefix="bench-scratch-") as tmp:
        state = Path(tmp)
        host = probe(Isolation.AUTO, state / "probe")
        host.close()
        assert host.bwrap is not None, host.bwrap_problem
        rows, kept = asyncio.run(_pool_rows(state))
        samples: dict[str, list[float]] = {"none": [], "tmpfs": [], "disk": []}
        for _ in range(ROUNDS):
            for kind in samples:
                tmp_arg = str(kept.path) if kind == "disk" else (None if kind == "tmpfs" else kind)
                samples[kind].append(_ms(_argv(host.bwrap, host.setpriv, tmp_arg, ["/bin/true"])))
        rows = [
            _row("bwrap /bin/true, no /tmp (floor)", samples["none"]),
            _row("bwrap /bin/true, tmpfs /tmp (before)", samples["tmpfs"]),
            _row("bwrap /bin/true, disk /tmp bound (after)", samples["disk"]),
            *rows,
        ]
        for kind in ("tmpfs", "disk"):
            group = Path("/sys/fs/cgroup/memory") / f"bench-scratch-{os.getpid()}-{kind}"
            group.mkdir()
            try:
                (group / "memory.limit_in_bytes").write_text(str(128 << 20))
                tmp_arg = str(kept.path) if kind == "disk" else None
                argv = _argv(host.bwrap, host.setpriv, tmp_arg, [PYTHON, "-c", WRITE_200MB])
                enter = f'echo 0 > {group}/tasks && exec "$@"'
                start = time.perf_counter()
                done = subprocess.run(
                    ["sh", "-c", enter, "sh", *argv], check=False, pass_fds=(_DEVNULL,)
                )
                took = (time.perf_counter() - start) * 1000
                oom = "oom_kill 0" not in (group / "memory.oom_control").read_text()
                verdict = "ok" if done.returncode == 0 else f"exit {done.returncode}"
                verdict += ", OOM-killed" if oom else ""
                rows.append(
                    f"{'write 200 MB, 128 MB cgroup, ' + kind:<48} {took:8.0f} ms  {verdict}"
                )
            finally:
                for _ in range(100):
                    try:
                        group.rmdir()
                        break
                    except OSError:
                        time.sleep(0.01)
        scratch.ScratchPool(kept.path.parent).close()
    print(f"bench.scratch ({ROUNDS} samples each; median [p25..p75])")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
