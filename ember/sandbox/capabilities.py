"""What this host lets Ember enforce, probed once at start-up, and how to say it.

`probe()` tries each primitive for real (a throw-away bubblewrap sandbox, a cgroup made and
removed) instead of guessing from versions; `guarantees()` lists, for `ember doctor` and the
start-up line, which of Lambda's guarantees hold here and what stands in for the others.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import shutil
import subprocess
from pathlib import Path

from ember.sandbox import bwrap, cgroups, seccomp
from ember.sandbox import network as netns
from ember.sandbox.netpool import NamespacePool
from ember.sandbox.outbound import Outbound, OutboundError
from ember.sandbox.scratch import ScratchPool, check_scratch
from ember.sandbox.spec import PIDS_MAX

VCPU_MB = 1769  # Lambda: a full vCPU at 1,769 MB, in proportion below and above
MAX_VCPUS = 6


class Isolation(enum.StrEnum):
    AUTO = "auto"  # the best this host offers
    BWRAP = "bwrap"  # namespaces required: refuse to start without them
    NONE = "none"  # plain processes, no limits (benchmarks, debugging)


class IsolationUnavailableError(Exception):
    """--isolation bwrap on a host where bubblewrap cannot run."""


@dataclasses.dataclass(frozen=True, slots=True)
class Guarantee:
    what: str
    held: bool
    how: str  # the mechanism, or why not and what stands in


@dataclasses.dataclass(frozen=True)
class Capabilities:
    mode: Isolation
    cores: int
    bwrap: str | None = None  # a bubblewrap that works here; None: plain processes
    bwrap_version: str = ""
    setpriv: str | None = None  # set when Ember is root: how the sandbox user is reached
    identity: tuple[Path, Path] | None = None  # the sandbox's /etc/passwd and /etc/group
    tree: cgroups.Tree | None = None
    bwrap_problem: str = ""
    cgroup_problem: str = ""
    hosts: Path | None = None  # the sandbox's /etc/hosts, set when environments get a netns
    network_problem: str = "no bubblewrap"
    outbound: Outbound | None = None  # veth + NAT out of environments' namespaces
    outbound_problem: str = "no network namespaces"
    netpool: NamespacePool | None = None  # namespaces made ahead of cold starts
    scratch: ScratchPool | None = None  # /tmp filesystems on disk; None: tmpfs
    scratch_problem: str = "no bubblewrap"

    @property
    def network(self) -> bool:
        """Each environment gets its own network namespace (sandboxed, as root)."""
        return self.hosts is not None

    @property
    def namespaces(self) -> bool:
        return self.bwrap is not None

    @property
    def rlimits(self) -> bool:
        """Memory is capped by RLIMIT_DATA where there is no memory cgroup."""
        return self.tree is None and self.mode is not Isolation.NONE

    @property
    def unprivileged_bwrap(self) -> bool:
        return self.setpriv is None

    def cpus(self, memory_mb: int) -> float:
        """Lambda's CPU share for a memory size, capped at 6 vCPUs and at this host."""
        return min(memory_mb / VCPU_MB, MAX_VCPUS, self.cores)

    def guarantees(self) -> list[Guarantee]:
        if self.mode is Isolation.NONE:
            off = "off (--isolation none)"
            return [
                Guarantee(w, False, off)
                for w in ("namespaces", "filesystem", "user", "memory", "cpu", "pids", "freezer")
            ] + [Guarantee("/tmp size", False, off), Guarantee("network", False, off)]
        ns, tree = self.namespaces, self.tree
        version = f"cgroup v{tree.version}" if tree is not None else ""
        no_ns = f"no ({self.bwrap_problem})"
        no_cg = f"no cgroups ({self.cgroup_problem})"
        user = (
            f"uid {bwrap.SANDBOX_UID} ({bwrap.SANDBOX_USER}) via setpriv, no capabilities, "
            "no user namespaces (seccomp)"
            if self.setpriv
            else f"uid {bwrap.SANDBOX_UID} in a user namespace over uid {os.getuid()}"
        )
        return [
            Guarantee(
                "namespaces",
                ns,
                f"mount, pid, ipc, uts via bubblewrap {self.bwrap_version} ({self.bwrap})"
                if ns
                else no_ns,
            ),
            Guarantee(
                "filesystem",
                ns,
                "/var/task, /opt, /var/runtime, /var/lang read-only; private /tmp; "
                "no data dir, /root, /home"
                if ns
                else "no: functions see the host's files as Ember's user",
            ),
            Guarantee("user", ns, user if ns else f"no: functions run as uid {os.getuid()}"),
            Guarantee(
                "memory",
                tree is not None,
                f"{version} memory limit = MemorySize, OOM answers Runtime.OutOfMemory"
                if tree
                else f"{no_cg}; RLIMIT_DATA = MemorySize instead",
            ),
            Guarantee(
                "cpu",
                tree is not None,
                f"{version} CPU quota: MemorySize / {VCPU_MB} vCPU, at most "
                f"{min(MAX_VCPUS, self.cores)}"
                if tree
                else f"{no_cg}; not limited",
            ),
            Guarantee(
                "pids",
                tree is not None,
                f"{version} pids.max = {PIDS_MAX} per environment, {tree.pids_total} for all"
                if tree
                else f"{no_cg}; not limited",
            ),
            Guarantee(
                "freezer",
                tree is not None,
                f"{version} freezer between invocations"
                if tree
                else f"{no_cg}; SIGSTOP/SIGCONT of the process group instead",
            ),
            Guarantee(
                "/tmp size",
                ns and self.scratch is not None,
                "own ext4 filesystem of EphemeralStorage MB on disk (a loop-mounted image; "
                "ENOSPC past it; its page cache is reclaimed, never an OOM), wiped at the end"
                if ns and self.scratch is not None
                else f"no ({self.scratch_problem}): tmpfs of EphemeralStorage MB instead, "
                "its pages count as the function's memory"
                if ns
                else "no: /tmp is the host's",
            ),
            Guarantee(
                "network",
                self.network,
                "own network namespace per environment: Runtime API at 127.0.0.1:9001, "
                "no host loopback but --host-access ports at host.ember.internal, "
                "Ember's API for functions through the environment door; "
                f"{self._outbound_text()}"
                if self.network
                else f"no ({self.network_problem}): functions share the host's network, "
                "its loopback and every environment's Runtime API port",
            ),
        ]

    def _outbound_text(self) -> str:
        if self.outbound is None:
            return f"no outside network ({self.outbound_problem})"
        return (
            f"outbound to the outside through NAT ({self.outbound.describe()}); "
            "never to the host itself, its loopback or other environments"
        )

    def summary(self) -> str:
        """One line for the start-up banner."""
        if self.mode is Isolation.NONE:
            return "isolation: none (plain processes, no limits)"
        uid = bwrap.SANDBOX_UID
        parts = [
            f"bubblewrap {self.bwrap_version} (mount/pid/ipc/uts namespaces, uid {uid})"
            if self.namespaces
            else f"plain processes ({self.bwrap_problem})"
        ]
        parts.append(
            (
                "own network namespace, outbound NAT"
                if self.outbound is not None
                else f"own network namespace, no outbound ({self.outbound_problem})"
            )
            if self.network
            else f"host network ({self.network_problem})"
        )
        if self.tree is not None:
            parts.append(f"cgroup v{self.tree.version} (memory, cpu, pids, freezer)")
        else:
            parts.append(f"no cgroups ({self.cgroup_problem}): RLIMIT_DATA, SIGSTOP")
        if self.namespaces:
            if self.scratch is not None:
                room = self.scratch.room()  # one statvfs of the data dir
                parts.append(
                    f"/tmp on disk (room for {max(0, room.available) >> 20} MB of "
                    f"EphemeralStorage: the data dir's free space less a {room.reserve >> 20} "
                    "MB reserve)"
                )
            else:
                parts.append(f"/tmp in memory ({self.scratch_problem})")
        return "isolation: " + "; ".join(parts)

    def close(self) -> None:
        if self.netpool is not None:  # before the bridge their veths are on
            self.netpool.close()
        if self.outbound is not None:
            self.outbound.close()
        if self.scratch is not None:
            self.scratch.close()
        if self.tree is not None:
            self.tree.close()


def _version(bwrap_path: str) -> str:
    try:
        out = subprocess.run(
            [bwrap_path, "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip().removeprefix("bubblewrap ").strip()


def _try_bwrap(bwrap_path: str, setpriv: str | None, identity: tuple[Path, Path] | None) -> str:
    """Run a throw-away sandbox with the flags environments use; "" or why it failed."""
    read_fd, write_fd = os.pipe()
    filter_fd = seccomp.pipe()  # environments run under it: it must load here
    args = bwrap.command(
        bwrap_path,
        binds=(),
        identity=identity,
        tmp_bytes=1 << 20,
        cwd="/",
        info_fd=write_fd,
        unprivileged=setpriv is None,
        seccomp_fd=filter_fd,
    )
    program = [*bwrap.drop_privileges(setpriv), "/bin/true"] if setpriv else ["/bin/true"]
    try:
        result = subprocess.run(
            args + program,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            pass_fds=(write_fd,) if filter_fd < 0 else (write_fd, filter_fd),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    finally:
        os.close(read_fd)
        os.close(write_fd)
        if filter_fd >= 0:
            os.close(filter_fd)
    if result.returncode != 0:
        return (result.stderr.strip() or f"exit status {result.returncode}").splitlines()[-1]
    return ""


def probe(
    mode: Isolation, state_dir: Path, *, outbound: bool = True, pids_total: int | None = None
) -> Capabilities:
    """Find out what this host allows (blocking: ~20 ms). `state_dir` holds the sandbox's
    generated files. IsolationUnavailableError when `mode` demands what is missing.
    `outbound`: set up NAT for environments' namespaces where they get one (~40 ms).
    `pids_total`: processes and threads of all environments together (default: host_pids)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    if mode is Isolation.NONE:
        return Capabilities(mode=mode, cores=cores)
    root = os.geteuid() == 0
    bwrap_path = shutil.which("bwrap")
    setpriv = shutil.which("setpriv") if root else None
    identity = None
    problem = ""
    if bwrap_path is None:
        problem = "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    elif root and setpriv is None:
        problem = "setpriv (util-linux) is missing: cannot drop root inside the sandbox"
    else:
        identity = bwrap.write_identity_files(state_dir / "etc")
        problem = _try_bwrap(bwrap_path, setpriv, identity)
    if problem and mode is Isolation.BWRAP:
        raise IsolationUnavailableError(f"--isolation bwrap: {problem}")
    tree: cgroups.Tree | None = None
    cgroup_problem = ""
    try:
        tree = cgroups.open_tree(str(os.getpid()), pids_total=pids_total)
    except cgroups.CgroupError as exc:
        cgroup_problem = str(exc)
    if problem:
        return Capabilities(
            mode=mode, cores=cores, tree=tree, bwrap_problem=problem, cgroup_problem=cgroup_problem
        )
    assert bwrap_path is not None
    hosts = None
    wired: Outbound | None = None
    outbound_problem = "--network-outbound off"
    if not root:
        network_problem = "network namespaces need root: run Ember as root to isolate the network"
    else:
        network_problem = netns.available()
        if not network_problem:
            hosts = netns.write_hosts_file(state_dir / "etc")
            if outbound:
                try:
                    wired = Outbound.open()
                    outbound_problem = ""
                except OutboundError as exc:
                    outbound_problem = str(exc)
    scratch_problem = check_scratch(state_dir)  # after the cgroups' sweep killed leftovers
    return Capabilities(
        scratch=ScratchPool.open(state_dir) if not scratch_problem else None,
        scratch_problem=scratch_problem,
        hosts=hosts,
        network_problem=network_problem,
        outbound=wired,
        outbound_problem=outbound_problem,
        netpool=NamespacePool(wired) if hosts is not None else None,
        mode=mode,
        cores=cores,
        bwrap=bwrap_path,
        bwrap_version=_version(bwrap_path),
        setpriv=setpriv,
        identity=identity,
        tree=tree,
        cgroup_problem=cgroup_problem,
    )
