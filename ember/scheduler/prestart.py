"""Pre-started sandboxes: Python cold starts that skip bubblewrap and the interpreter's start.

For each Python runtime that has had a cold start, a few environments are kept ready
(`ember serve --prestart N`, N per runtime): fully sandboxed as any other (bubblewrap's
mount, PID, IPC and UTS namespaces, uid 993 without capabilities, the seccomp filter, a
network namespace, a /tmp of 512 MB and a cgroup of their own), the interpreter started
with Ember's runtime (runtimes/python/prestarted.py), blocked on a pipe. Their /var/task
and /opt are binds of two empty folders of their own slot (sandbox.mounts).

A cold start whose function fits (below: `_eligible` and `fits`) takes one: the server
attaches the function's code and merged layers read-only on the slot's folders (they
propagate into that sandbox only), lowers the cgroup's memory limit to MemorySize, and
writes the function's variables (credentials, handler, Runtime API address) down the pipe;
the runtime then imports the handler and runs Init as after a fresh start. A pre-started
sandbox is used once: it becomes that environment and dies with it; nothing of one
function is ever seen by another. The owned task `run()` makes a new one in the
background after each take.

Not served from here (a fresh sandbox as before): images, non-Python runtimes, layers
with extensions, AWS_LAMBDA_EXEC_WRAPPER, variables read at the interpreter's start
(PYTHON*, LD_*, ...), EphemeralStorage other than 512 MB, SnapStart, and hosts where the
relayed host ports are found at each start (`--host-access-all`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import os
from pathlib import Path

from ember.blocking import run_blocking
from ember.runtimes import RuntimeSpec
from ember.sandbox import Capabilities, LaunchError, ProcessSandbox, SandboxSpec, mounts, network
from ember.sandbox.launcher import loader_variable
from ember.sandbox.network import HostAccess
from ember.sandbox.scratch import ScratchError, ScratchPool
from ember.scheduler import layout
from ember.scheduler.spec import EnvironmentSpec
from ember.telemetry import Metrics

log = logging.getLogger("ember.scheduler")

HOLD_MB = 10240  # the cgroup's limit until a function takes it (Lambda's largest)
TMP_MB = 512  # /tmp of a pre-started sandbox: Lambda's default EphemeralStorage
# A placeholder variable: the room where the runtime writes the function's variables for
# /proc/<pid>/environ to show (Lambda's limit is 4 KB of them; credentials and Lambda's own
# add about 2 KB).
ROOM = "_EMBER_ROOM"
ROOM_BYTES = 32768
ENTRY = "prestarted.py"
COUNTER = "PrestartedInits"  # per function, in `/_ember/metrics/<name>` Counters
_RETRY = 5.0  # seconds before trying again after a failed start
_PIPE_BUFFER = 65536


def _eligible(spec: EnvironmentSpec, runtime: RuntimeSpec) -> bool:
    """What can be told before the launch's plan: the function runs Ember's Python
    runtime as a plain cold start, with nothing the interpreter reads when it starts."""
    return (
        runtime.is_python
        and runtime.is_managed
        and spec.image is None
        and spec.ephemeral_storage == TMP_MB
        and spec.initialization_type in ("on-demand", "provisioned-concurrency")
        and not any(
            name.startswith("PYTHON") or loader_variable(name) or name == layout.EXEC_WRAPPER
            for name in spec.environment
        )
    )


@dataclasses.dataclass
class Prestarted:
    """One ready sandbox; the environment that takes it owns it (and its network
    namespace, through its Launch) from then on."""

    runtime: str
    sandbox: ProcessSandbox
    slot: Path
    assign_fd: int  # ours: the pipe the runtime waits on
    binds: tuple[tuple[str, str], ...]  # what it was started with, less /var/task and /opt
    netns: network.Namespace | None
    routes: dict[int, int]
    _slots: mounts.SlotRoot
    _metrics: Metrics
    # Its /tmp's claim on the data dir's disk (the scheduler claims one for the environment
    # that takes it: this one is dropped then).
    _scratch: ScratchPool | None

    def fits(self, plan: layout.Plan) -> bool:
        """Whether `plan` asks for exactly this sandbox (save the code and layers)."""
        sandbox = plan.sandbox
        return (
            not plan.extensions
            and plan.missing_entrypoint is None
            and sandbox.root is None
            and not sandbox.companions
            and sandbox.tmp_mb == TMP_MB
            and _generic(sandbox.binds) == self.binds
        )

    async def assign(self, spec: EnvironmentSpec, plan: layout.Plan) -> ProcessSandbox:
        """Give this sandbox to `spec`'s environment: mount its code and layers, set its
        memory limit, hand over its variables. LaunchError when it cannot (it is
        discarded then: the caller starts a fresh one)."""
        if not self.fits(plan):
            raise LaunchError("the function does not fit a pre-started sandbox")
        if self.sandbox.returncode is not None:
            raise LaunchError("the pre-started sandbox has exited")
        binds = dict((target, source) for source, target in plan.sandbox.binds)
        try:
            # On the loop: ~0.2 ms of mount calls, where a thread hop may queue behind the
            # blocking work of a configuration change (the old environment's /tmp going).
            self._mount(binds.get(layout.TASK), binds.get(layout.OPT))
            self.sandbox.limit_memory(spec.memory_size)
            data = json.dumps({"env": dict(plan.sandbox.env)}).encode()
            if len(data) > _PIPE_BUFFER or os.write(self.assign_fd, data) != len(data):
                raise LaunchError("the function's variables do not fit the assignment pipe")
        except OSError as exc:
            raise LaunchError(f"cannot assign the pre-started sandbox: {exc}") from exc
        finally:
            os.close(self.assign_fd)
            self.assign_fd = -1
        self._unclaim()
        self._metrics.count(spec.function_name, COUNTER)
        return self.sandbox

    def _unclaim(self) -> None:
        if self._scratch is not None:
            self._scratch.unclaim(TMP_MB)
            self._scratch = None

    def _mount(self, task: str | None, opt: str | None) -> None:
        if task is None:
            raise LaunchError("no code to mount")
        mounts.hand_over(task, self.slot / "task")
        mounts.hand_over(opt, self.slot / "opt")

    async def release(self) -> None:
        """After its sandbox is closed: unmount the code and layers, delete the slot."""
        await run_blocking(self._slots.release, self.slot)

    async def discard(self) -> None:
        """Never used: stop it, release everything it holds (its namespace too)."""
        if self.assign_fd >= 0:
            os.close(self.assign_fd)
            self.assign_fd = -1
        self.sandbox.kill()
        await self.sandbox.wait()
        await self.sandbox.close()
        self._unclaim()
        await self.release()
        if self.netns is not None:
            self.netns.close()
            self.netns = None


class _NoRoom(Exception):
    """The data dir's disk has no room to spare for another /tmp."""


def _generic(binds: object) -> tuple[tuple[str, str], ...]:
    assert isinstance(binds, (list, tuple))
    return tuple(
        (source, target) for source, target in binds if target not in (layout.TASK, layout.OPT)
    )


class Prestarts:
    """The ready sandboxes, per Python runtime, and the task that keeps `size` of each."""

    def __init__(
        self,
        size: int,
        capabilities: Capabilities,
        host_access: HostAccess,
        slots: mounts.SlotRoot,
        metrics: Metrics,
    ) -> None:
        self.size = size
        self._caps = capabilities
        self._access = host_access
        self._slots = slots
        self._metrics = metrics
        self._runtimes: dict[str, RuntimeSpec] = {}  # those that had a cold start
        self._ready: dict[str, collections.deque[Prestarted]] = {}
        self._dead: list[Prestarted] = []
        self._closed = False
        self._wanted = asyncio.Event()

    @classmethod
    def open(
        cls, size: int, caps: Capabilities, access: HostAccess, metrics: Metrics
    ) -> Prestarts | None:
        """None (with a log line) where this host cannot pre-start sandboxes."""
        if size <= 0:
            return None
        problem = None
        if caps.bwrap is None or not caps.namespaces or caps.identity is None:
            problem = "no bubblewrap sandbox as root"
        elif caps.tree is None:
            problem = "no cgroups (a pre-started sandbox's memory limit is set in its cgroup)"
        elif access.all_ports:
            problem = "--host-access-all (relayed ports are found at each start)"
        base = caps.identity[0].parent.parent / "prestart" if caps.identity else Path()
        if problem is None:
            problem = mounts.check(base)
        if problem is not None:
            log.warning("pre-started sandboxes off: %s", problem)
            return None
        return cls(size, caps, access, mounts.SlotRoot.open(base), metrics)

    def take(self, spec: EnvironmentSpec, runtime: RuntimeSpec) -> Prestarted | None:
        """A ready sandbox for `spec`'s cold start, if it may have one; the pool of its
        runtime is topped up in the background (and started, on a runtime's first)."""
        if self._closed or not _eligible(spec, runtime):
            return None
        if runtime.name not in self._runtimes:
            self._runtimes[runtime.name] = runtime
            self._ready[runtime.name] = collections.deque()
        ready = self._ready[runtime.name]
        self._wanted.set()
        while ready:
            item = ready.popleft()
            if item.sandbox.returncode is None:
                return item
            self._dead.append(item)  # exited while it waited: run() clears it up
        return None

    async def run(self) -> None:
        """Keep `size` ready per runtime until cancelled; then stop the unused ones."""
        try:
            while not self._closed:
                await self._wanted.wait()
                self._wanted.clear()
                while self._dead:
                    await self._dead.pop().discard()
                for name, runtime in list(self._runtimes.items()):
                    ready = self._ready[name]
                    while len(ready) < self.size and not self._closed:
                        try:
                            ready.append(await self._start(runtime))
                        except _NoRoom:
                            await asyncio.sleep(_RETRY)
                            self._wanted.set()
                            break
                        except (LaunchError, OSError, network.NetworkError) as exc:
                            log.warning("cannot pre-start a %s sandbox: %s", name, exc)
                            await asyncio.sleep(_RETRY)
                            self._wanted.set()
                            break
        finally:
            items = [item for ready in self._ready.values() for item in ready] + self._dead
            self._dead = []
            self._ready.clear()
            self._runtimes.clear()
            for item in items:
                with contextlib.suppress(Exception):
                    await item.discard()

    async def close(self) -> None:
        """After every environment is gone: no more sandboxes, the ready ones stopped, the
        slots' folder removed."""
        self._closed = True
        self._wanted.set()  # run() ends its loop
        await self.give_back()
        await run_blocking(self._slots.close)

    async def give_back(self) -> None:
        """Stop the ready sandboxes (a cold start needs the disk their /tmp holds); the
        pool is made again on the next cold start."""
        items = [item for ready in self._ready.values() for item in ready]
        for ready in self._ready.values():
            ready.clear()
        for item in items:
            await item.discard()

    async def _start(self, runtime: RuntimeSpec) -> Prestarted:
        caps = self._caps
        scratch = caps.scratch
        if scratch is not None:
            # Never the last room on the data dir's disk: that is for cold starts.
            if not scratch.fits(2 * TMP_MB):
                raise _NoRoom
            try:
                scratch.claim(TMP_MB)
            except ScratchError:
                raise _NoRoom from None
        try:
            return await self._launch(runtime)
        except BaseException:
            if scratch is not None:
                scratch.unclaim(TMP_MB)
            raise

    async def _launch(self, runtime: RuntimeSpec) -> Prestarted:
        caps = self._caps
        ns: network.Namespace | None = None
        routes: dict[int, int] = {}
        if caps.network:
            routes = self._access.routes()
            if caps.netpool is not None:
                ns = await caps.netpool.take(routes)
            else:
                ns = await run_blocking(network.create, routes, caps.outbound)
        slot = await run_blocking(self._slots.slot)
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            read_fd = _high_fd(read_fd)
            spec = self._spec(runtime, slot, read_fd, ns)
            read_fd = -1  # launch() closes it, started or not
            sandbox = await ProcessSandbox.launch(spec, caps)
        except BaseException:
            os.close(write_fd)
            if read_fd >= 0:
                os.close(read_fd)
            await run_blocking(self._slots.release, slot)
            if ns is not None:
                ns.close()
            raise
        return Prestarted(
            runtime=runtime.name,
            sandbox=sandbox,
            slot=slot,
            assign_fd=write_fd,
            binds=_generic(spec.binds),
            netns=ns,
            routes=routes,
            _slots=self._slots,
            _metrics=self._metrics,
            _scratch=caps.scratch,
        )

    def _spec(
        self, runtime: RuntimeSpec, slot: Path, read_fd: int, ns: network.Namespace | None
    ) -> SandboxSpec:
        """The sandbox layout.plan would ask for, with the slot's folders as code and
        layers, and the pre-start entry as the program."""
        lang = None if runtime.prefix in ("/", "/usr") else layout.LANG
        binds = [(str(slot / "task"), layout.TASK), (runtime.runtime_dir, layout.RUNTIME)]
        if lang is not None:
            binds.append((runtime.prefix, layout.LANG))
        binds.append((str(slot / "opt"), layout.OPT))
        if runtime.sdk_dir is not None:
            binds.append((runtime.sdk_dir, layout.SDK))
        binds.extend((folder, folder) for folder in runtime.extra_binds)
        argv = runtime.argv(layout.TASK, lang=lang, runtime_dir=layout.RUNTIME)
        argv[-1:] = [f"{layout.RUNTIME}/{ENTRY}", str(read_fd)]
        env = {
            "PATH": layout.LAMBDA_PATH,
            "LD_LIBRARY_PATH": layout.LAMBDA_LD_LIBRARY_PATH,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            ROOM: "." * ROOM_BYTES,
        }
        return SandboxSpec(
            argv=argv,
            env=env,
            cwd=layout.TASK,
            memory_mb=HOLD_MB,
            tmp_mb=TMP_MB,
            binds=binds,
            netns=ns.fd if ns is not None else -1,
            hosts=self._caps.hosts if ns is not None else None,
            keep_fds=[read_fd],
        )


def _high_fd(fd: int) -> int:
    """`fd` moved to 10 or above (as the launch's own pipes)."""
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved
