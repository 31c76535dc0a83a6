"""One environment's process tree: started sandboxed and limited, frozen, thawed, killed.

Started as `command` assembles it. The outer process is our child: its exit is the
program's exit (bubblewrap exits with its initial process, 128+N for signal N), observed
through a pidfd, so no child watcher or thread is needed. The sandbox's pid 1, reported by
bubblewrap on an info pipe, is what kills the whole PID namespace at once. stdout and
stderr of everything inside share one non-blocking pipe that the owner drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import termios
import uuid
from collections.abc import Callable

from ember.blocking import run_blocking
from ember.sandbox import network
from ember.sandbox.capabilities import Capabilities, Isolation
from ember.sandbox.cgroups import CgroupError, Group, Limits
from ember.sandbox.command import build, close_fds
from ember.sandbox.scratch import Scratch, ScratchError
from ember.sandbox.spec import LaunchError, SandboxSpec

log = logging.getLogger("ember.sandbox")

_warned: set[str] = set()


def _warn_once(what: str, message: str, *args: object) -> None:
    """Log a fallback the first time it is taken (a broken counter would repeat per call)."""
    if what not in _warned:
        _warned.add(what)
        log.warning(message, *args)


_INFO_LIMIT = 5.0  # seconds bubblewrap may take to report its pid 1 (it takes ~2 ms)
# Output read per wake-up of the loop (a quarter of a pipe's default capacity; ~0.4 ms to
# cut into lines at worst): a function writing without pause gets this much per turn of
# the loop and otherwise waits on its full pipe, so other work waits at most one turn.
_READ_BUDGET = 16384


class ProcessSandbox:
    """One environment's processes. Create with `await ProcessSandbox.launch(spec, caps)`."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        caps: Capabilities,
        group: Group | None,
        output_fd: int,
        go_fd: int,
        report_fd: int,
    ) -> None:
        self._proc = proc
        self._caps = caps
        self._group = group
        self._output_fd = output_fd
        self._go_fd = go_fd  # write a line: the held program starts
        self._report_fd = report_fd  # "<status> <name>" per companion that exits
        self._loop = asyncio.get_running_loop()
        self._pidfd = os.pidfd_open(proc.pid)
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._loop.add_reader(self._pidfd, self._on_exit)
        self._on_output: Callable[[bytes], None] | None = None
        self._on_companion_exit: Callable[[str, int], None] | None = None
        self._report_buffer = b""
        self._init_pidfd = -1  # the sandbox's pid 1 (bubblewrap's reaper)
        self._pgid = proc.pid  # the program's process group
        self.frozen = False
        self._peak_mb = 1  # the last peak memory read, in MB
        self._scratch: Scratch | None = None  # its /tmp filesystem, wiped at close()
        if report_fd >= 0:
            self._loop.add_reader(report_fd, self._on_report)

    # -- start ----------------------------------------------------------------------

    @classmethod
    async def launch(cls, spec: SandboxSpec, caps: Capabilities) -> ProcessSandbox:
        """Make the cgroup (off the loop), start the process, learn the sandbox's pid 1."""
        scratch = None
        if caps.scratch is not None and caps.bwrap is not None:
            try:
                scratch = await caps.scratch.take(spec.tmp_mb)
            except ScratchError as exc:
                close_fds(*spec.keep_fds)  # ours to close once passed, started or not
                raise LaunchError(f"cannot make the environment's /tmp: {exc}") from exc
            spec = dataclasses.replace(spec, tmp_dir=str(scratch.path))
        group = None
        if caps.tree is not None:
            limits = Limits(memory_bytes=spec.memory_mb << 20, pids_max=spec.pids_max)
            try:
                group = await run_blocking(caps.tree.create, uuid.uuid4().hex, limits)
            except CgroupError as exc:
                if caps.scratch is not None:
                    await caps.scratch.release(scratch)
                close_fds(*spec.keep_fds)
                raise LaunchError(f"cannot create the environment's cgroup: {exc}") from exc
        try:
            sandbox, info_fd = cls._start(spec, caps, group)
        except BaseException:
            if group is not None:
                await run_blocking(group.remove)
            if caps.scratch is not None:
                await caps.scratch.release(scratch)
            raise
        sandbox._scratch = scratch
        if info_fd >= 0:
            try:
                await sandbox._read_info(info_fd)
            except BaseException:
                sandbox.kill()
                await sandbox.close()
                raise
        return sandbox

    @classmethod
    def _start(
        cls, spec: SandboxSpec, caps: Capabilities, group: Group | None
    ) -> tuple[ProcessSandbox, int]:
        command = build(spec, caps, group)
        try:
            read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
            command.child_ends.append(write_fd)
            try:
                try:
                    with network.entered(spec.netns):  # the fork starts in the namespace
                        proc = cls._popen(
                            command.argv,
                            spec,
                            command.env,
                            command.cwd,
                            write_fd,
                            pass_fds=command.child_ends[:-1],
                        )
                except network.NetworkError as exc:
                    raise LaunchError(f"cannot enter the network namespace: {exc}") from exc
            except BaseException:
                os.close(read_fd)
                raise
        except BaseException:
            command.close_ours()
            raise
        finally:
            close_fds(*command.child_ends)
        os.set_blocking(read_fd, False)
        return cls(proc, caps, group, read_fd, command.go, command.reports), command.info

    @staticmethod
    def _popen(
        argv: list[str],
        spec: SandboxSpec,
        env: dict[str, str],
        cwd: str,
        output: int,
        pass_fds: list[int],
    ) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                argv,
                env=env,  # the launcher's (command.build): not always the function's
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,  # its own process group: we kill the whole tree
                close_fds=True,
                pass_fds=pass_fds,
            )
        except OSError as exc:
            raise LaunchError(f"cannot start the runtime {spec.argv[0]!r}: {exc}") from exc

    async def _read_info(self, info_fd: int) -> None:
        """bubblewrap's `{"child-pid": N}`: the sandbox's pid 1 and the program's group."""
        data = b""
        readable = asyncio.Event()
        self._loop.add_reader(info_fd, readable.set)
        try:
            async with asyncio.timeout(_INFO_LIMIT):
                while True:
                    await readable.wait()
                    readable.clear()
                    try:
                        chunk = os.read(info_fd, 4096)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        break
                    data += chunk
        except TimeoutError:
            raise LaunchError("bubblewrap did not start the sandbox in time") from None
        finally:
            self._loop.remove_reader(info_fd)
            os.close(info_fd)
        try:
            pid = int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            try:
                code = await asyncio.wait_for(self.wait(), _INFO_LIMIT)
            except TimeoutError:
                raise LaunchError("bubblewrap reported no sandbox and did not exit") from None
            output = self._read_all_output().decode("utf-8", "replace").strip()
            raise LaunchError(
                f"the sandbox failed to start (exit status {code}): {output}"
            ) from None
        self._pgid = pid  # bubblewrap's --new-session makes pid 1 the group leader
        with contextlib.suppress(OSError):
            self._init_pidfd = os.pidfd_open(pid)

    def release(self) -> None:
        """Start the program held behind the companions."""
        if self._go_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self._go_fd, b"go\n")
            self._abandon_hold()

    def _abandon_hold(self) -> None:
        """Never start a held program: the launcher reads end-of-file and exits."""
        close_fds(self._go_fd)
        self._go_fd = -1

    def on_companion_exit(self, callback: Callable[[str, int], None]) -> None:
        """Called with (name, exit status) when a companion program exits."""
        self._on_companion_exit = callback

    def _on_report(self) -> None:
        try:
            chunk = os.read(self._report_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._loop.remove_reader(self._report_fd)
            close_fds(self._report_fd)
            self._report_fd = -1
            return
        lines = (self._report_buffer + chunk).split(b"\n")
        self._report_buffer = lines.pop()
        for line in lines:
            status, _, name = line.decode("utf-8", "replace").partition(" ")
            if self._on_companion_exit is not None and status.isdigit():
                self._on_companion_exit(name, int(status))

    # -- observing --------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    def on_output(self, callback: Callable[[bytes], None]) -> None:
        """Deliver output chunks to `callback` as they arrive."""
        self._on_output = callback
        if self._output_fd >= 0:
            self._loop.add_reader(self._output_fd, self._read_output, _READ_BUDGET)

    def _read_all_output(self) -> bytes:
        """What a sandbox that failed to start said (its first 16 KB)."""
        with contextlib.suppress(OSError):
            return os.read(self._output_fd, _READ_BUDGET)
        return b""

    def drain_output(self) -> None:
        """Read what the processes have written until now: called synchronously when a
        response arrives, so its log lines are never behind it. Bounded by what the pipe
        holds at this moment (at most its capacity), not by what they keep writing."""
        if self._output_fd >= 0:
            self._read_output(self._queued_output())

    def _queued_output(self) -> int:
        try:
            raw = fcntl.ioctl(self._output_fd, termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return _READ_BUDGET
        return max(1, int.from_bytes(raw, sys.byteorder))  # 1: still notice end-of-file

    def _read_output(self, budget: int) -> None:
        """Read up to `budget` bytes and hand them on; the rest waits for the next turn."""
        while self._output_fd >= 0 and budget > 0:
            try:
                chunk = os.read(self._output_fd, min(budget, _READ_BUDGET))
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # every writer closed
                self._loop.remove_reader(self._output_fd)
                os.close(self._output_fd)
                self._output_fd = -1
                return
            budget -= len(chunk)
            if self._on_output is not None:
                self._on_output(chunk)

    async def wait(self) -> int:
        """Wait for the program to exit; its return code (negative: killed by signal)."""
        return await asyncio.shield(self._exited)

    def exited(self) -> asyncio.Future[int]:
        return self._exited

    def _on_exit(self) -> None:
        self._loop.remove_reader(self._pidfd)
        returncode = self._proc.wait()
        os.close(self._pidfd)
        self._pidfd = -1
        if self._caps.bwrap is not None and 128 < returncode <= 128 + 64:
            returncode = 128 - returncode  # bubblewrap reports signal N as 128+N
        if not self._exited.done():
            self._exited.set_result(returncode)

    def max_memory_used_mb(self) -> int:
        """Peak memory of the environment (the cgroup's), in MB, as REPORT shows it."""
        if self._group is not None:
            try:
                self._peak_mb = max(1, round(self._group.peak_bytes() / (1 << 20)))
                return self._peak_mb
            except CgroupError as exc:
                _warn_once(
                    "peak",
                    "cannot read an environment's peak memory (%s): reporting its "
                    "processes' own peaks instead",
                    exc,
                )
        # Never 0 MB: the processes' peak, else the last figure measured.
        self._peak_mb = max(self._rss_peak_mb(), self._peak_mb)
        return self._peak_mb

    def _rss_peak_mb(self) -> int:
        pid = self._proc.pid
        if self._caps.bwrap is not None:  # the program is pid 1's first child
            children = f"/proc/{self._pgid}/task/{self._pgid}/children"
            with contextlib.suppress(OSError, ValueError, IndexError), open(children) as listing:
                pid = int(listing.read().split()[0])
        try:
            with open(f"/proc/{pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        return max(1, round(int(line.split()[1]) / 1024))
        except (OSError, ValueError):
            pass
        return 0

    def processes(self) -> list[int]:
        """Host pids of every process in the environment's cgroup (none without cgroups)."""
        return self._group.pids() if self._group is not None else []

    def out_of_memory(self) -> bool:
        """Whether the kernel's OOM killer struck inside this environment."""
        if self._group is None:
            return False
        try:
            return self._group.oom_kills() > 0
        except CgroupError as exc:
            _warn_once(
                "oom",
                "cannot read an environment's OOM counter (%s): taking a SIGKILL of its "
                "program for the OOM killer's",
                exc,
            )
            return self.returncode == -signal.SIGKILL

    # -- controlling ----------------------------------------------------------------

    def limit_cpu(self, cpus: float | None) -> None:
        """Set the CPU quota (after Init: Init runs at the host's speed)."""
        if self._group is not None:
            try:
                self._group.set_cpus(cpus)
            except CgroupError as exc:  # the group is going away with its processes
                log.warning("cannot set the CPU quota: %s", exc)

    def limit_memory(self, memory_mb: int) -> None:
        """Lower the memory limit (a pre-started sandbox taken by a function)."""
        if self._group is None:
            raise LaunchError("no cgroup to limit the memory of")
        try:
            self._group.set_memory(memory_mb << 20)
        except CgroupError as exc:
            raise LaunchError(f"cannot set the memory limit: {exc}") from exc

    def freeze(self) -> None:
        """Stop every process of the environment until thaw()."""
        if self.frozen or self._caps.mode is Isolation.NONE:
            return
        if self._group is not None:
            self._group.freeze()
        else:
            self._signal_group(signal.SIGSTOP)
        self.frozen = True
        if self._scratch is not None and self._caps.scratch is not None:
            self._caps.scratch.detach(self._scratch)  # its program ran: /tmp is bound inside

    def thaw(self) -> None:
        if not self.frozen:
            return
        if self._group is not None:
            self._group.thaw()
        else:
            self._signal_group(signal.SIGCONT)
        self.frozen = False

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pgid, sig)

    def kill(self) -> None:
        """SIGKILL everything: the namespace's pid 1 (which takes the namespace with it),
        both process groups, and whatever is left in the cgroup."""
        if self._init_pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
        for pgid in {self._pgid, self._proc.pid}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        if self._group is not None:
            for pid in self._group.pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        # Frozen tasks die of SIGKILL only once thawed (cgroup v1).
        with contextlib.suppress(CgroupError, OSError):
            self.thaw()

    async def terminate(self, grace: float) -> int:
        """Shutdown: SIGTERM the program's group, then SIGKILL everything after `grace`."""
        self.thaw()
        self._abandon_hold()  # a program still held behind its companions never starts
        if not self._exited.done():
            self._signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await self.wait()
            except TimeoutError:
                pass
        self.kill()  # the group, companions and daemons may outlive the program
        code = await self.wait()
        self.drain_output()
        return code

    async def close(self) -> None:
        """Release fds, remove the cgroup (after kill(): waits for the last task) and hand
        the /tmp filesystem back to be wiped."""
        self._abandon_hold()
        if self._report_fd >= 0:
            self._loop.remove_reader(self._report_fd)
        close_fds(self._report_fd, self._init_pidfd)
        self._report_fd = self._init_pidfd = -1
        if self._group is not None:
            group, self._group = self._group, None
            try:
                await run_blocking(group.remove)
            except CgroupError as exc:
                # Left for the next server's sweep; the environment itself is gone.
                log.warning("environment cgroup not removed: %s", exc)
        if self._scratch is not None and self._caps.scratch is not None:
            scratch, self._scratch = self._scratch, None
            await self._caps.scratch.release(scratch)
