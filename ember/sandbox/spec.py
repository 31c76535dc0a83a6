"""What a sandbox is asked to run, what stops it from starting, and how its end reads."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

PIDS_MAX = 1024  # Lambda: 1,024 processes or threads per environment


class LaunchError(Exception):
    """The program could not be started (missing, not executable, sandbox refused)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxSpec:
    argv: Sequence[str]  # paths as the program sees them (inside the sandbox, if any)
    env: Mapping[str, str]
    cwd: str
    memory_mb: int
    tmp_mb: int = 512
    tmp_dir: str | None = None  # a host folder to bind at /tmp (None: a tmpfs of tmp_mb)
    binds: Sequence[tuple[str, str]] = ()  # (host folder, sandbox path), read-only
    companions: Sequence[str] = ()  # started first; argv waits for release()
    pids_max: int = PIDS_MAX
    netns: int = -1  # an fd of the network namespace to start in (-1: Ember's own)
    hosts: Path | None = None  # the sandbox's /etc/hosts (None: the host's)
    # A container image's root file system, bound read-only at / in place of the host's
    # system folders (None: the host's, as for zip functions). Sandboxed only.
    root: str | None = None
    # Descriptors the program inherits (pre-started sandboxes: the assignment pipe's read
    # end); closed here once it started.
    keep_fds: Sequence[int] = ()


def describe_exit(returncode: int) -> str:
    """Lambda's wording for how a runtime ended."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        name = signal.Signals(-returncode).name.removeprefix("SIG").lower()
        name = {"kill": "killed", "term": "terminated", "segv": "segmentation fault"}.get(
            name, name
        )
        return f"Runtime exited with error: signal: {name}"
    return f"Runtime exited with error: exit status {returncode}"
