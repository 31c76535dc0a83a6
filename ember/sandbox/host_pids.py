"""How many processes and threads all environments may have together, so that they can never
leave the host (and Ember) unable to fork.

Each environment may have 1,024 (Lambda's limit, its own pids.max), but 32 fork or thread
bombs would number every pid of a host with the common pid_max of 32,768. The cgroup above
every environment's (`<mount>/ember/<server>`) gets a pids.max of its own, hierarchical on v1
and v2: 3/4 of what the host can number (the lower of pid_max and threads-max), less the
tasks that run when Ember starts. The quarter left, and what ran before, stay the host's.
"""

from __future__ import annotations

from pathlib import Path

from ember.sandbox.spec import PIDS_MAX

SHARE = (3, 4)  # of the host's pids, what environments may take together
_PID_MAX = Path("/proc/sys/kernel/pid_max")
_THREADS_MAX = Path("/proc/sys/kernel/threads-max")
_LOADAVG = Path("/proc/loadavg")  # 4th field: "running/tasks" (threads included)


def share(pid_max: int, in_use: int) -> int:
    """3/4 of `pid_max` less the `in_use` tasks; never under one environment's 1,024 (a
    host that crowded has no room to give, but Ember must still run a function)."""
    numerator, denominator = SHARE
    return max(PIDS_MAX, pid_max * numerator // denominator - in_use)


def _read_int(path: Path, default: int) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _tasks_now() -> int:
    try:
        return int(_LOADAVG.read_text().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        return 0


def host_share() -> int:
    """What this host can give all environments together, as it is now."""
    pid_max = _read_int(_PID_MAX, 32768)  # the kernel's default
    threads_max = _read_int(_THREADS_MAX, pid_max)
    return share(min(pid_max, threads_max), _tasks_now())
