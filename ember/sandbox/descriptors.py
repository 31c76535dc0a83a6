"""File descriptors: the server's RLIMIT_NOFILE, raised to what the host allows, and how
many environments fit in it.

Every environment holds descriptors in the server for as long as it lives (measured ~8:
its Runtime API listener and connection, the pidfds of its process and of its namespace's
pid 1, its output and report pipes, its cgroup's freezer and peak files, its log stream),
and each invocation in flight adds its client's connection. With the common soft limit of
1,024 a server ran out at ~120 environments and failed in whatever opened the next file.
The scheduler refuses a new environment once the budget is spent, in Lambda's words.

Connections made from inside environments cost the server more: each relayed one
(host.ember.internal, the environment door) holds 3 descriptors (accepted in the namespace,
dialled to the host, accepted by the door), each Runtime API connection 1. An environment's
own descriptors cover its first Runtime API connections (the runtime's and one more); every
other connection borrows from one allowance shared by all environments (`Allowance`), a
quarter of what the reserve leaves, and is refused (closed on arrival) once it is spent. So
environments holding connections exhaust that share, never the server's limit.
"""

from __future__ import annotations

import dataclasses
import resource

FDS_PER_ENVIRONMENT = 10  # ~9 measured idle (with its network namespace), its client's connection
RESERVED_FDS = 128  # the server's own: databases, listeners, client connections, blobs
RELAYED_FDS = 3  # per relayed connection: inside the namespace, to the host, at the door
RUNTIME_API_FDS = 1  # per Runtime API connection past an environment's own
CONNECTION_SHARE = 4  # a 1/4 of what the reserve leaves goes to connections
_NR_OPEN = "/proc/sys/fs/nr_open"  # the kernel's ceiling for an unlimited hard limit


@dataclasses.dataclass(frozen=True, slots=True)
class DescriptorBudget:
    soft: int  # the limit in force
    hard: int
    was: int  # the soft limit before raise_limit()

    @property
    def connections(self) -> int:
        """Descriptors lent to environments' connections beyond their own (`Allowance`)."""
        return max(0, self.soft - RESERVED_FDS) // CONNECTION_SHARE

    @property
    def environments(self) -> int:
        """Environments this process can hold without running out of descriptors."""
        return max(1, (self.soft - RESERVED_FDS - self.connections) // FDS_PER_ENVIRONMENT)

    def summary(self) -> str:
        raised = f" (raised from {self.was})" if self.was != self.soft else ""
        return (
            f"open files: {self.soft}{raised} of at most {self.hard}: room for "
            f"{self.environments} environments, and {self.connections} descriptors shared "
            "by their extra connections"
        )


class Allowance:
    """Descriptors shared by every environment's connections beyond its own: taken when
    one is accepted, given back when it closes. Not thread-safe: the event loop's."""

    def __init__(self, fds: int) -> None:
        self.capacity = fds
        self.used = 0
        self.refused = 0  # connections closed on arrival: the allowance was spent

    def take(self, fds: int) -> bool:
        """Lend `fds` descriptors if they are left; False (and counted) if not."""
        if self.used + fds > self.capacity:
            self.refused += 1
            return False
        self.used += fds
        return True

    def give_back(self, fds: int) -> None:
        self.used = max(0, self.used - fds)


def _ceiling(hard: int) -> int:
    if hard != resource.RLIM_INFINITY:
        return hard
    try:
        with open(_NR_OPEN) as limit:
            return int(limit.read())
    except (OSError, ValueError):
        return 1 << 20


def current() -> DescriptorBudget:
    """The limits as they are, and what raise_limit() would make of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return DescriptorBudget(soft=_ceiling(hard), hard=_ceiling(hard), was=soft)


def raise_limit() -> DescriptorBudget:
    """Raise the soft limit to the hard one (any process may); the budget that results.
    Environments do not keep the raise: their launcher sets FUNCTION_LIMIT."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _ceiling(hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            target = soft
    else:
        target = _ceiling(soft)
    return DescriptorBudget(soft=target, hard=_ceiling(hard), was=_ceiling(soft))


# What a function may open (Lambda: 1,024), within what this process may grant.
FUNCTION_LIMIT = min(1024, _ceiling(resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
