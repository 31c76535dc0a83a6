"""Watching execution environments from the inside, over TCP to the host's loopback.

Functions built from `probe_handler()` report to a `Probe` the test runs on the host's
127.0.0.1 (reached as host.ember.internal from a sandbox, whose server must be started
with `Probe.access`, i.e. `--host-access <probe port>`):
each environment says `hello` during Init and keeps that connection open for its whole
life (the probe sees it close when the environment is shut down, however that happens),
and an invocation asked to `count` holds an `enter`/`exit` pair around its sleep, so the
probe knows how many invocations of a function run at the same moment. Nothing here
reads Ember's own counters, host files or pids: environments may be sandboxed (private
/tmp, own pid and network namespaces); the relayed port is their one way to the host.
"""

from __future__ import annotations

import collections
import dataclasses
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.e2e.harness import function_host

# The probe's address reaches the function as PROBE_HOST and PROBE_PORT variables, so an
# environment initialised ahead of any invocation (provisioned) can report too.
_HANDLER = """\
import os
import socket
import time
import uuid

TAG = {tag!r}
ENV_ID = uuid.uuid4().hex
INIT_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "")
_ADDRESS = (os.environ["PROBE_HOST"], int(os.environ["PROBE_PORT"]))
_NAME = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
_VERSION = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
# Open for the environment's whole life: the probe sees it close when the environment goes.
_LIFELINE = socket.create_connection(_ADDRESS)
_LIFELINE.sendall(f"hello {{ENV_ID}} {{_NAME}} {{_VERSION}} {{INIT_TYPE}}\\n".encode())


def handler(event, context):
    sleep = event.get("sleep", 0)
    if event.get("count"):
        with socket.create_connection(_ADDRESS) as conn, conn.makefile("rb") as answers:
            conn.sendall(f"enter {{_NAME}}\\n".encode())
            time.sleep(sleep)
            conn.sendall(f"exit {{_NAME}}\\n".encode())
            answers.readline()  # returns only once the probe has counted the exit
    elif sleep:
        time.sleep(sleep)
    return {{
        "tag": TAG,
        "env": ENV_ID,
        "init": INIT_TYPE,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
    }}
"""


def probe_handler(tag: str = "") -> dict[str, str]:
    """A function package (app.handler) that reports to the probe at $PROBE_HOST:$PROBE_PORT."""
    return {"app.py": _HANDLER.format(tag=tag)}


@dataclasses.dataclass
class EnvRecord:
    function: str
    version: str
    init_type: str
    alive: bool = True


class Probe:
    """What the environments said: who exists, who is gone, how many ran at once."""

    def __init__(self, server: socketserver.ThreadingTCPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._envs: dict[str, EnvRecord] = {}  # environment id -> record
        self._running: collections.Counter[str] = collections.Counter()  # function -> now
        self._peak: collections.Counter[str] = collections.Counter()  # function -> most
        self._entered: collections.Counter[str] = collections.Counter()  # function -> total

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def environment(self) -> dict[str, dict[str, str]]:
        """CreateFunction's Environment member that points a function at this probe."""
        return {"Variables": {"PROBE_HOST": function_host(), "PROBE_PORT": str(self.port)}}

    @property
    def access(self) -> tuple[str, str]:
        """The `ember serve` flag that lets sandboxed functions reach this probe."""
        return ("--host-access", str(self.port))

    # -- what the tests read -----------------------------------------------------------

    def envs(
        self,
        function: str,
        *,
        version: str | None = None,
        init_type: str | None = None,
        alive: bool | None = None,
    ) -> set[str]:
        with self._lock:
            return {
                env_id
                for env_id, r in self._envs.items()
                if r.function == function
                and (version is None or r.version == version)
                and (init_type is None or r.init_type == init_type)
                and (alive is None or r.alive == alive)
            }

    def alive(self, env_id: str) -> bool:
        with self._lock:
            record = self._envs.get(env_id)
            return record is not None and record.alive

    def peak(self, function: str) -> int:
        with self._lock:
            return self._peak[function]

    def entered(self, function: str) -> int:
        with self._lock:
            return self._entered[function]

    # -- what the environments say -----------------------------------------------------

    def _hello(self, env_id: str, function: str, version: str, init_type: str) -> None:
        with self._lock:
            self._envs[env_id] = EnvRecord(function, version, init_type)

    def _gone(self, env_id: str) -> None:
        with self._lock:
            self._envs[env_id].alive = False

    def _enter(self, function: str) -> None:
        with self._lock:
            self._running[function] += 1
            self._entered[function] += 1
            self._peak[function] = max(self._peak[function], self._running[function])

    def _exit(self, function: str) -> None:
        with self._lock:
            self._running[function] -= 1


class _Connection(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        probe = self.server.probe
        hello: str | None = None
        try:
            for raw in self.rfile:
                word, *args = raw.decode().split()
                if word == "hello":
                    hello = args[0]
                    probe._hello(args[0], args[1], args[2], args[3] if len(args) > 3 else "")
                elif word == "enter":
                    probe._enter(args[0])
                elif word == "exit":
                    probe._exit(args[0])
                    self.wfile.write(b"ok\n")
        except OSError:
            pass  # a killed environment resets its connections: it is gone all the same
        finally:
            if hello is not None:
                probe._gone(hello)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    probe: Probe


@contextmanager
def running_probe() -> Iterator[Probe]:
    server = _Server(("127.0.0.1", 0), _Connection)
    server.probe = Probe(server)
    thread = threading.Thread(target=server.serve_forever, name="probe", daemon=True)
    thread.start()
    try:
        yield server.probe
    finally:
        server.shutdown()
        server.server_close()
