"""Control groups for environments: memory, CPU and pids limits, the freezer, the memory peak.

Each environment gets one group per controller under `<mount>/ember/<server>/<env>` (v1) or
one group under `<cgroup2 mount>/ember/<server>/<env>` (v2). `<server>` has a pids.max of its
own, for all environments together (host_pids: they cannot leave the host unable to fork).
Creating and removing groups is
blocking file work (run it off the loop); freeze, thaw and reading the peak keep their file
open and are one short syscall each, cheap enough for the invoke path.

OSError from the cgroup filesystem is translated into CgroupError here, at the seam.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from ember.sandbox import host_pids

# The controllers an environment needs; the freezer is a controller only on v1.
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer")
V2_CONTROLLERS = ("memory", "cpu", "pids")
# CFS period for CPU quotas: short, so a small share runs in small slices rather than a
# burst then a long stall (at 128 MB the quota is ~1.4 ms every 20 ms).
CPU_PERIOD_US = 20_000
_MIN_QUOTA_US = 1_000  # the kernel refuses quotas under 1 ms

log = logging.getLogger("ember.sandbox")


class CgroupError(Exception):
    """A cgroup could not be created, written or removed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int
    pids_max: int
    cpus: float | None = None  # None: not throttled (yet)


def quota_us(cpus: float) -> int:
    return max(_MIN_QUOTA_US, round(CPU_PERIOD_US * cpus))


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def _open(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags | os.O_CLOEXEC)
    except OSError as exc:
        raise CgroupError(f"cannot open {path}: {exc.strerror}") from exc


def _rmdir(path: Path, deadline: float) -> None:
    """rmdir a group; the kernel refuses (EBUSY) until its last task is reaped."""
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise CgroupError(f"cannot remove {path}: {exc.strerror}") from exc
            time.sleep(0.005)


class Group(Protocol):
    """One environment's cgroup(s)."""

    name: str

    def enter_files(self) -> list[str]: ...
    def set_cpus(self, cpus: float | None) -> None: ...
    def set_memory(self, memory_bytes: int) -> None: ...
    def freeze(self) -> None: ...
    def thaw(self) -> None: ...
    def peak_bytes(self) -> int: ...
    def oom_kills(self) -> int: ...
    def pids(self) -> list[int]: ...
    def remove(self) -> None: ...


class Tree(Protocol):
    """Where groups are made: one cgroup hierarchy (v1: one per controller)."""

    version: int
    controllers: tuple[str, ...]
    pids_total: int  # pids.max of the group above every environment's

    def location(self) -> str: ...
    def read_pids_total(self) -> int: ...
    def create(self, name: str, limits: Limits) -> Group: ...
    def close(self) -> None: ...


def _read_int(fd: int) -> int:
    return int(os.pread(fd, 64, 0).split()[0])


def _read_pids(path: Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text().split()]
    except (OSError, ValueError):
        return []


_warned: set[str] = set()


def _warn_once(what: str, detail: object) -> None:
    """A counter Ember relies on cannot be read: say so once per server, not per call."""
    if what not in _warned:
        _warned.add(what)
        log.warning("cannot read %s (%s); using a fallback from now on", what, detail)


def _read_key(path: Path, key: str) -> int:
    """`key`'s value in a flat-keyed cgroup file (memory.events, memory.oom_control)."""
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    raise ValueError(f"no {key} in {path.name}")


def _member_pids(name: str, sources: Iterable[Path]) -> list[int]:
    """The pids in a group: from the first `cgroup.procs` that reads, else (a read failed)
    every process whose /proc/PID/cgroup names the group."""
    problem: Exception | None = None
    for procs in sources:
        try:
            return [int(line) for line in procs.read_text().split()]
        except FileNotFoundError:
            return []  # the group is gone, and with it every process it held
        except (OSError, ValueError) as exc:
            problem = exc
    _warn_once("cgroup.procs", problem)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry.name}/cgroup") as membership:
            if f"/{name}\n" in membership.read():
                found.append(int(entry.name))
    return found


class V1Group:
    def __init__(self, name: str, dirs: Mapping[str, Path]) -> None:
        self.name = name
        self._dirs = dict(dirs)
        self._freezer = _open(self._dirs["freezer"] / "freezer.state", os.O_WRONLY)
        self._peak = _open(self._dirs["memory"] / "memory.max_usage_in_bytes", os.O_RDONLY)

    def enter_files(self) -> list[str]:
        # A single-threaded process writing "0" to `tasks` moves itself without the global
        # threadgroup lock, whose RCU wait makes a `cgroup.procs` write cost ~10 ms here.
        return [str(directory / "tasks") for directory in self._dirs.values()]

    def set_cpus(self, cpus: float | None) -> None:
        cpu = self._dirs["cpu"]
        quota = quota_us(cpus) if cpus else -1
        _write(cpu / "cpu.cfs_quota_us", str(quota))
        if quota > 0 and (cpu / "cpu.cfs_burst_us").exists():
            # Quota left unused in quiet periods may be spent on a burst: the same share
            # over time, without a short invocation stalling for a whole period.
            _write(cpu / "cpu.cfs_burst_us", str(quota))

    def set_memory(self, memory_bytes: int) -> None:
        """A lower limit (a pre-started environment taken by a function): memory first,
        since memory+swap may not go below it."""
        memory = self._dirs["memory"]
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))

    def freeze(self) -> None:
        os.pwrite(self._freezer, b"FROZEN", 0)

    def thaw(self) -> None:
        os.pwrite(self._freezer, b"THAWED", 0)

    def peak_bytes(self) -> int:
        memory = self._dirs["memory"]
        try:
            return _read_int(self._peak)
        except (OSError, ValueError, IndexError) as exc:
            _warn_once("memory.max_usage_in_bytes", exc)
        try:
            return int((memory / "memory.usage_in_bytes").read_text())
        except (OSError, ValueError) as exc:
            raise CgroupError(f"cannot read the memory use of {self.name}: {exc}") from exc

    def oom_kills(self) -> int:
        """OOM kills in the group. Kernels before 4.13 have no such counter (and a read
        may fail): then the number of times the group hit its limit stands in for it."""
        memory = self._dirs["memory"]
        try:
            return _read_key(memory / "memory.oom_control", "oom_kill")
        except (OSError, ValueError) as exc:
            _warn_once("memory.oom_control", exc)
        try:
            return int((memory / "memory.failcnt").read_text())
        except (OSError, ValueError) as exc:
            raise CgroupError(f"cannot tell whether {self.name} ran out of memory") from exc

    def pids(self) -> list[int]:
        order = ("pids", "freezer", "memory", "cpu")
        return _member_pids(self.name, (self._dirs[c] / "cgroup.procs" for c in order))

    def remove(self) -> None:
        for fd in (self._freezer, self._peak):
            with contextlib.suppress(OSError):
                os.close(fd)
        deadline = time.monotonic() + 2.0
        for directory in self._dirs.values():
            _rmdir(directory, deadline)


class V1Tree:
    """cgroup v1: a group per controller, each under its own mount."""

    version = 1
    controllers: tuple[str, ...] = V1_CONTROLLERS

    def __init__(self, mounts: Mapping[str, Path], server: str, pids_total: int) -> None:
        self._bases = {c: mounts[c] / "ember" / server for c in V1_CONTROLLERS}
        self.pids_total = pids_total
        # The freezer first: a frozen task dies of SIGKILL only once thawed.
        for controller in ("freezer", "memory", "cpu", "pids"):
            sweep(self._bases[controller].parent)
        for controller, base in self._bases.items():
            try:
                base.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CgroupError(f"cannot create {base}: {exc.strerror}") from exc
            if controller == "memory":
                # Needed on old kernels for limits to cover a group's children.
                with contextlib.suppress(CgroupError):
                    _write(base / "memory.use_hierarchy", "1")
        # Hierarchical: no environment may fork once all of them together have this many.
        _write(self._bases["pids"] / "pids.max", str(pids_total))

    def location(self) -> str:
        return str(self._bases["memory"].parent.parent.parent)

    def read_pids_total(self) -> int:
        return _read_total(self._bases["pids"] / "pids.max")

    def create(self, name: str, limits: Limits) -> Group:
        dirs = {c: base / name for c, base in self._bases.items()}
        try:
            for directory in dirs.values():
                directory.mkdir()
        except OSError as exc:
            for directory in dirs.values():
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise CgroupError(f"cannot create cgroup {name}: {exc.strerror}") from exc
        memory = dirs["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        # With swap accounting, memory+swap gets the same limit: no swapping past it.
        if (memory / "memory.memsw.limit_in_bytes").exists():
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        _write(dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(dirs["pids"] / "pids.max", str(limits.pids_max))
        group = V1Group(name, dirs)
        group.set_cpus(limits.cpus)
        return group

    def close(self) -> None:
        """Remove this server's (empty) groups."""
        deadline = time.monotonic() + 1.0
        for base in self._bases.values():
            with contextlib.suppress(CgroupError):
                _rmdir(base, deadline)


class V2Group:
    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self._dir = directory
        self._freezer = _open(directory / "cgroup.freeze", os.O_WRONLY)
        peak = directory / "memory.peak"  # Linux 5.19 and later
        self._peak = _open(peak, os.O_RDONLY) if peak.exists() else -1

    def enter_files(self) -> list[str]:
        return [str(self._dir / "cgroup.procs")]

    def set_cpus(self, cpus: float | None) -> None:
        value = f"{quota_us(cpus)} {CPU_PERIOD_US}" if cpus else f"max {CPU_PERIOD_US}"
        _write(self._dir / "cpu.max", value)
        if cpus and (self._dir / "cpu.max.burst").exists():
            _write(self._dir / "cpu.max.burst", str(quota_us(cpus)))  # as on v1

    def set_memory(self, memory_bytes: int) -> None:
        _write(self._dir / "memory.max", str(memory_bytes))

    def freeze(self) -> None:
        os.pwrite(self._freezer, b"1", 0)

    def thaw(self) -> None:
        os.pwrite(self._freezer, b"0", 0)

    def peak_bytes(self) -> int:
        if self._peak >= 0:
            try:
                return _read_int(self._peak)
            except (OSError, ValueError, IndexError) as exc:
                _warn_once("memory.peak", exc)
        try:
            return int((self._dir / "memory.current").read_text())
        except (OSError, ValueError) as exc:
            raise CgroupError(f"cannot read the memory use of {self.name}: {exc}") from exc

    def oom_kills(self) -> int:
        """OOM kills in the group; if that cannot be read, the times it hit its limit."""
        try:
            return _read_key(self._dir / "memory.events", "oom_kill")
        except (OSError, ValueError) as exc:
            _warn_once("memory.events", exc)
        try:
            return _read_key(self._dir / "memory.events.local", "max")
        except (OSError, ValueError) as exc:
            raise CgroupError(f"cannot tell whether {self.name} ran out of memory") from exc

    def pids(self) -> list[int]:
        return _member_pids(self.name, [self._dir / "cgroup.procs"])

    def remove(self) -> None:
        for fd in (self._freezer, self._peak):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        _rmdir(self._dir, time.monotonic() + 2.0)


class V2Tree:
    """cgroup v2: one unified hierarchy; controllers are enabled down the path."""

    version = 2
    controllers: tuple[str, ...] = (*V2_CONTROLLERS, "freezer")

    def __init__(self, mount: Path, server: str, pids_total: int) -> None:
        self._mount = mount
        self._base = mount / "ember" / server
        self.pids_total = pids_total
        enable = " ".join(f"+{c}" for c in V2_CONTROLLERS)
        sweep(self._base.parent)
        try:
            self._base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CgroupError(f"cannot create {self._base}: {exc.strerror}") from exc
        for parent in (mount, mount / "ember", self._base):
            _write(parent / "cgroup.subtree_control", enable)
        # Hierarchical: no environment may fork once all of them together have this many.
        _write(self._base / "pids.max", str(pids_total))

    def location(self) -> str:
        return str(self._mount)

    def read_pids_total(self) -> int:
        return _read_total(self._base / "pids.max")

    def create(self, name: str, limits: Limits) -> Group:
        directory = self._base / name
        try:
            directory.mkdir()
        except OSError as exc:
            raise CgroupError(f"cannot create cgroup {name}: {exc.strerror}") from exc
        _write(directory / "memory.max", str(limits.memory_bytes))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
        _write(directory / "pids.max", str(limits.pids_max))
        group = V2Group(name, directory)
        group.set_cpus(limits.cpus)
        return group

    def close(self) -> None:
        with contextlib.suppress(CgroupError):
            _rmdir(self._base, time.monotonic() + 1.0)


def _mounts(mountinfo: Iterable[str]) -> tuple[dict[str, Path], Path | None]:
    """cgroup v1 mount points by controller, and the cgroup2 mount point (if any)."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    for line in mountinfo:
        fields = line.split()
        if " - " not in line:
            continue
        dash = fields.index("-")
        fstype, options = fields[dash + 1], fields[dash + 3]
        point = Path(fields[4].replace("\\040", " "))
        if fstype == "cgroup2":
            v2 = point
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in V1_CONTROLLERS:
                    v1.setdefault(option, point)
    return v1, v2


def _read_total(path: Path) -> int:
    """A pids.max as a number ("max": unlimited, -1)."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise CgroupError(f"cannot read {path}: {exc.strerror}") from exc
    return -1 if text == "max" else int(text)


def open_tree(
    server: str, mountinfo_path: str = "/proc/self/mountinfo", *, pids_total: int | None = None
) -> Tree:
    """The hierarchy with every controller an environment needs, writable by this process:
    v1 where the v1 mounts carry them (hybrid hosts), else v2. CgroupError if neither.
    `pids_total`: processes and threads of all environments together (default: the host's
    share, host_pids)."""
    total = pids_total if pids_total is not None else host_pids.host_share()
    try:
        with open(mountinfo_path) as mountinfo:
            v1, v2 = _mounts(mountinfo)
    except OSError as exc:
        raise CgroupError(f"cannot read {mountinfo_path}: {exc.strerror}") from exc
    problems = []
    if all(c in v1 for c in V1_CONTROLLERS):
        try:
            return V1Tree(v1, server, total)
        except CgroupError as exc:
            problems.append(f"v1: {exc}")
    elif v1:
        missing = ", ".join(c for c in V1_CONTROLLERS if c not in v1)
        problems.append(f"v1: no {missing} controller mounted")
    if v2 is not None:
        try:
            available = set((v2 / "cgroup.controllers").read_text().split())
        except OSError as exc:
            available = set()
            problems.append(f"v2: cannot read cgroup.controllers: {exc.strerror}")
        missing_v2 = [c for c in V2_CONTROLLERS if c not in available]
        if missing_v2:
            problems.append(f"v2: controllers {', '.join(missing_v2)} not enabled at {v2}")
        else:
            try:
                return V2Tree(v2, server, total)
            except CgroupError as exc:
                problems.append(f"v2: {exc}")
    raise CgroupError("; ".join(problems) or "no cgroup filesystem is mounted")


def sweep(ember_dir: Path) -> None:
    """Remove the groups of Ember servers that are no longer running (`<ember_dir>/<pid>`),
    killing whatever they left behind (a crashed server's frozen environments)."""
    if not ember_dir.is_dir():
        return
    for server in ember_dir.iterdir():
        if (
            not server.is_dir()
            or not server.name.isdigit()
            or Path(f"/proc/{server.name}").exists()
        ):
            continue
        for group in server.iterdir():
            if not group.is_dir():
                continue
            for pid in _read_pids(group / "cgroup.procs"):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                (group / "freezer.state").write_text("THAWED")
            with contextlib.suppress(CgroupError):
                _rmdir(group, time.monotonic() + 1.0)
        with contextlib.suppress(OSError):
            server.rmdir()
