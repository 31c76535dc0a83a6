"""One network namespace per environment, made by Ember itself (no `ip`, no subprocess).

`create()` runs in a worker thread: it remembers the thread's namespace, unshares a new
one, brings its loopback up, opens the listening sockets the environment needs inside it
(the Runtime API at 127.0.0.1:9001, as on Lambda, and one relay socket on 127.0.0.2 per
host port the environment may reach as host.ember.internal), then returns the thread to
where it was. A socket keeps the namespace it was made in, so Ember's event loop serves
them as usual; the namespace itself lives as long as its fd or a process in it.

`entered()` puts the calling thread in a namespace for the few microseconds of a fork, so
the environment's first process starts inside it without an extra `nsenter` step (that
costs ~1.3 ms per cold start; two `setns` calls cost ~4 µs).

Inside there is loopback and, with `outbound` (see `outbound.py`), an `eth0` whose
default route leads out through the host's NAT: the host's loopback, Ember's API, the host
itself and the other environments stay out of reach. Without it there is no route out.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import logging
import os
import socket
import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ember.sandbox.outbound import Link, Outbound

CLONE_NEWNET = 0x40000000
RUNTIME_API = ("127.0.0.1", 9001)  # Lambda's AWS_LAMBDA_RUNTIME_API
HOST_ADDRESS = "127.0.0.2"  # host.ember.internal inside every environment
HOST_NAME = "host.ember.internal"
# sandbox.localdomain: where Telemetry API destinations listen, as on Lambda.
HOSTS = (
    f"127.0.0.1\tlocalhost sandbox.localdomain sandbox\n::1\tlocalhost\n"
    f"{HOST_ADDRESS}\t{HOST_NAME}\n"
)

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the union
_BACKLOG = 16
_THREAD_NS = "/proc/thread-self/ns/net"

_libc = ctypes.CDLL(None, use_errno=True)
log = logging.getLogger("ember.sandbox")


class NetworkError(OSError):
    """A namespace could not be made or entered."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise NetworkError(code, f"{what}: {os.strerror(code)}")


def _return(original: int) -> None:
    """Back to the thread's own namespace, or stop the server: a thread left in an
    environment's namespace would make Ember's sockets there (a relay's connection to
    "the host's" 127.0.0.1 would reach the function instead)."""
    if _libc.setns(original, CLONE_NEWNET) != 0:  # pragma: no cover - never seen
        code = ctypes.get_errno()
        log.critical("cannot return to Ember's network namespace: %s", os.strerror(code))
        os._exit(70)  # EX_SOFTWARE: nothing accepted is lost (the queue is durable)


@dataclasses.dataclass
class Namespace:
    """An environment's network namespace and the sockets Ember listens on inside it."""

    fd: int
    runtime_api: socket.socket  # 127.0.0.1:9001
    relays: dict[int, socket.socket]  # port on 127.0.0.2 -> its listening socket
    link: Link | None = None  # eth0 and its address, when outbound traffic is on
    outbound: Outbound | None = None  # where `link`'s address goes back

    def close(self) -> None:
        """Close the sockets and the fd (the kernel frees the namespace with its last
        process, and its veth pair with it). Idempotent."""
        if self.link is not None and self.outbound is not None:
            self.outbound.release(self.link)
            self.link = None
        self.runtime_api.close()
        for sock in self.relays.values():
            sock.close()
        self.relays = {}
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def _listen(address: tuple[str, int]) -> socket.socket:
    return socket.create_server(address, backlog=_BACKLOG)


def create(relay_ports: Iterable[int] = (), outbound: Outbound | None = None) -> Namespace:
    """A new namespace with its loopback up and Ember's sockets in it (blocking, ~0.5 ms;
    root only), and with `outbound` a veth pair to the host's NAT (~0.9 ms more). The
    calling thread is back in its own namespace on return."""
    original = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
    fd = -1
    link = None
    sockets: list[socket.socket] = []
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            fd = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
            _loopback_up()
            if outbound is not None:
                link = outbound.attach(fd)
            runtime_api = _listen(RUNTIME_API)
            sockets.append(runtime_api)
            relays = {}
            for port in relay_ports:
                relays[port] = _listen((HOST_ADDRESS, port))
                sockets.append(relays[port])
        finally:
            _return(original)
    except BaseException:
        for sock in sockets:
            sock.close()
        if link is not None and outbound is not None:
            outbound.release(link)
        if fd >= 0:
            os.close(fd)
        raise
    finally:
        os.close(original)
    return Namespace(fd, runtime_api, relays, link, outbound)


def add_relays(ns: Namespace, relay_ports: Iterable[int]) -> None:
    """Listening sockets on 127.0.0.2 at `relay_ports` inside `ns` (a pooled namespace is
    made before the host's ports are known; a few µs a port, fine on the loop)."""
    ports = [port for port in relay_ports if port not in ns.relays]
    if not ports:
        return
    with entered(ns.fd):
        for port in ports:
            ns.relays[port] = _listen((HOST_ADDRESS, port))


@contextlib.contextmanager
def entered(fd: int) -> Iterator[None]:
    """The calling thread inside namespace `fd` for the block (-1: stays where it is);
    processes forked meanwhile start there."""
    if fd < 0:
        yield
        return
    original = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), "setns")
        try:
            yield
        finally:
            _return(original)
    finally:
        os.close(original)


def available() -> str:
    """ "" if this process can make network namespaces, else why not (blocking)."""
    try:
        create().close()
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            return "making a network namespace needs root (CAP_SYS_ADMIN)"
        return str(exc)
    return ""


def write_hosts_file(folder: Path) -> Path:
    """The sandbox's /etc/hosts: localhost and host.ember.internal (blocking; once)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hosts"
    if not path.is_file() or path.read_text() != HOSTS:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(HOSTS)
        tmp.chmod(0o644)
        os.replace(tmp, path)
    return path


def _listening(table: str, loopback: Iterable[str]) -> set[int]:
    ports: set[int] = set()
    with contextlib.suppress(OSError), open(table) as rows:
        next(rows, None)
        for row in rows:
            fields = row.split()
            address, _, port = fields[1].partition(":")
            if fields[3] == "0A" and address in loopback:  # TCP_LISTEN
                ports.add(int(port, 16))
    return ports


# Addresses in /proc/net/tcp{,6} (hex, host byte order) that a connection to the host's
# 127.0.0.1 reaches: 127.0.0.1 itself, 0.0.0.0, and ::ffff:127.0.0.1 / :: for dual stack.
_V4 = ("0100007F", "00000000")
_V6 = ("0000000000000000FFFF00000100007F", "00000000000000000000000000000000")


def loopback_ports() -> set[int]:
    """TCP ports that something listens on for the host's 127.0.0.1 now (blocking)."""
    return _listening("/proc/net/tcp", _V4) | _listening("/proc/net/tcp6", _V6)


@dataclasses.dataclass(frozen=True)
class HostAccess:
    """Which ports of host.ember.internal an environment reaches, and where they lead."""

    ports: Mapping[int, int] = dataclasses.field(default_factory=dict)  # inside -> host port
    all_ports: bool = False  # also every port listening on the host's loopback at start
    excluded: frozenset[int] = frozenset()  # never by `all_ports` (Ember's own sockets)
    aws_port: int | None = None  # the inside port that leads to Ember's environment door

    def routes(self) -> dict[int, int]:
        """Port on 127.0.0.2 inside -> port on the host's 127.0.0.1 (blocking with
        `all_ports`: reads the host's listening sockets)."""
        routes = dict(self.ports)
        if self.all_ports:
            for port in loopback_ports() - self.excluded:
                routes.setdefault(port, port)
        return routes
