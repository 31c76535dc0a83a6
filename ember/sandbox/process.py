"""An environment as a plain process tree in its own session (no isolation yet).

The process's stdout and stderr share one non-blocking pipe that the owner drains
from the event loop; its exit is observed through a pidfd, so no child watcher or
thread is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence


class LaunchError(Exception):
    """The runtime's program could not be started (missing, not executable)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    memory_mb: int


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


class ProcessSandbox:
    """One environment's process tree. Create with `await ProcessSandbox.launch(...)`."""

    def __init__(self, proc: subprocess.Popen[bytes], output_fd: int, pidfd: int) -> None:
        self._proc = proc
        self._output_fd = output_fd
        self._pidfd = pidfd
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._loop.add_reader(pidfd, self._on_exit)
        self._on_output: Callable[[bytes], None] | None = None

    @classmethod
    def launch(cls, spec: SandboxSpec) -> ProcessSandbox:
        """Start the process (fork+exec, about a millisecond, so it stays on the loop)."""
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            proc = subprocess.Popen(
                list(spec.argv),
                env=dict(spec.env),
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,  # its own process group: we kill the whole tree
                close_fds=True,
            )
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            raise LaunchError(f"cannot start the runtime {spec.argv[0]!r}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.close(write_fd)
        os.set_blocking(read_fd, False)
        return cls(proc, read_fd, os.pidfd_open(proc.pid))

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    def on_output(self, callback: Callable[[bytes], None]) -> None:
        """Deliver output chunks to `callback` as they arrive."""
        self._on_output = callback
        self._loop.add_reader(self._output_fd, self.drain_output)

    def drain_output(self) -> None:
        """Read everything the process has written so far (also called synchronously,
        when a response arrives, so its log lines are never behind it)."""
        while self._output_fd >= 0:
            try:
                chunk = os.read(self._output_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # every writer closed
                self._loop.remove_reader(self._output_fd)
                os.close(self._output_fd)
                self._output_fd = -1
                return
            if self._on_output is not None:
                self._on_output(chunk)

    async def wait(self) -> int:
        """Wait for the process to exit; its return code (negative: killed by signal)."""
        return await asyncio.shield(self._exited)

    def exited(self) -> asyncio.Future[int]:
        return self._exited

    def _on_exit(self) -> None:
        self._loop.remove_reader(self._pidfd)
        returncode = self._proc.wait()
        os.close(self._pidfd)
        if not self._exited.done():
            self._exited.set_result(returncode)

    def max_memory_used_mb(self) -> int:
        """Peak resident memory of the runtime process, in MB (what REPORT shows)."""
        try:
            with open(f"/proc/{self._proc.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        return max(1, round(int(line.split()[1]) / 1024))
        except (OSError, ValueError):
            pass
        return 0

    def kill(self) -> None:
        """SIGKILL the whole process group."""
        if not self._exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    async def terminate(self, grace: float) -> int:
        """Shutdown: SIGTERM, then SIGKILL after `grace` seconds."""
        if not self._exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await self.wait()
            except TimeoutError:
                self.kill()
        code = await self.wait()
        # The group may outlive its leader (a daemonised child): make sure it is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self.drain_output()
        return code
