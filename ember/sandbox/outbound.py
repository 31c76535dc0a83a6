"""Outbound traffic from environments' network namespaces, as on Lambda without a VPC:
veth pairs on a bridge of Ember's, NAT out of the host, and nftables rules that keep the
host itself, its loopback and the other environments out of reach.

Set up once per server (`Outbound.open()`, ~40 ms, root only) on a *slot* of its own, so
that several servers on one host never share a bridge: slot S is bridge `emberS` with
gateway 169.254.(192 + 4S).1 in a /22 of link-local addresses (never routed on the wire),
nftables tables `inet emberS` and `bridge emberS`, and a lock file held while the server
runs. A slot whose lock is free holds a crashed server's leftovers: swept before reuse.

Per environment (`attach()`, ~0.7-0.9 ms): one veth pair made by one rtnetlink request, its
host end on the bridge, its other end `eth0` inside the namespace with an address and a
default route via the gateway. Nothing is deleted per environment: the pair goes with the
namespace (an explicit delete costs ~30 ms under the kernel's rtnl lock), and its address
waits at the back of the free list; one whose pair still exists is skipped (EEXIST).

What holds (the rules below): an environment reaches anything the host routes to except
the host itself (every address of it, loopback included: input from the bridge is
dropped), 127/8, 0/8, 169.254/16 (cloud metadata services), multicast and IPv6, and
other environments (ports of the bridge never forward to each other). Nothing reaches an
environment but replies. Where the host did not forward packets before, it still forwards
none but the environments'.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import errno
import fcntl
import ipaddress
import logging
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from ember.sandbox.netlink import Netlink, NetlinkError

ADDRESSES = ipaddress.IPv4Network("169.254.192.0/18")  # link-local: slots of /22 in it
SLOT_PREFIX = 22
SLOTS = 2 ** (SLOT_PREFIX - ADDRESSES.prefixlen)  # 16 servers per host
INSIDE = "eth0"  # the environment's end, with this ifindex (a new namespace has only lo)
INSIDE_INDEX = 2
BLOCKED = ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")
LOCKS = Path("/run/ember/net")
_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
_BEFORE = "ip_forward.before"  # what the first of Ember's servers found, to restore

log = logging.getLogger("ember.sandbox")


class OutboundError(OSError):
    """Outbound traffic cannot be set up on this host (the reason is the message)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """One environment's veth pair: its host end's name and the address inside."""

    name: str
    address: ipaddress.IPv4Interface
    index: int  # in the slot's /22


def slot_network(slot: int) -> ipaddress.IPv4Network:
    return list(ADDRESSES.subnets(new_prefix=SLOT_PREFIX))[slot]


def ruleset(bridge: str, network: ipaddress.IPv4Network, *, host_forwarded: bool) -> str:
    """The nftables script for one slot: replaces its tables atomically (idempotent)."""
    blocked = ", ".join(BLOCKED)
    others = (
        ""
        if host_forwarded  # the host was a router before Ember: leave its traffic alone
        else '\t\tiifname != "ember*" oifname != "ember*" drop\n'
    )
    return (
        f"table inet {bridge}\ndelete table inet {bridge}\n"
        f"table bridge {bridge}\ndelete table bridge {bridge}\n"
        f"table inet {bridge} {{\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority -10; policy accept;\n"
        f'\t\tiifname "{bridge}" drop\n'
        "\t}\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority -10; policy accept;\n"
        f'\t\tiifname "{bridge}" meta nfproto != ipv4 drop\n'
        f'\t\tiifname "{bridge}" ip saddr != {network} drop\n'
        f'\t\tiifname "{bridge}" oifname "{bridge}" drop\n'
        f'\t\tiifname "{bridge}" ip daddr {{ {blocked} }} drop\n'
        f'\t\tiifname "{bridge}" accept\n'
        f'\t\toifname "{bridge}" ct state established,related accept\n'
        f'\t\toifname "{bridge}" drop\n'
        f"{others}"
        "\t}\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        f'\t\tip saddr {network} oifname != "{bridge}" masquerade\n'
        "\t}\n"
        "}\n"
        f"table bridge {bridge} {{\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority -10; policy accept;\n"
        f'\t\tiifname "{bridge}-*" drop\n'
        "\t}\n"
        "}\n"
    )


def _routes_overlapping(network: ipaddress.IPv4Network) -> list[str]:
    """The host's IPv4 routes that overlap `network` (its own bridge's aside)."""
    found = []
    with contextlib.suppress(OSError), open("/proc/net/route") as rows:
        next(rows, None)
        for row in rows:
            fields = row.split()
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            route = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
            if route.prefixlen and route.overlaps(network) and not fields[0].startswith("ember"):
                found.append(f"{route} dev {fields[0]}")
    return found


def _nft(script: str) -> None:
    nft = shutil.which("nft")
    if nft is None:
        raise OutboundError("nftables is not installed (Debian/Ubuntu: apt-get install nftables)")
    try:
        result = subprocess.run(
            [nft, "-f", "-"], input=script, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise OutboundError(f"nft: {exc}") from exc
    if result.returncode != 0:
        raise OutboundError(f"nft: {(result.stderr.strip() or 'failed').splitlines()[-1]}")


def _sweep(bridge: str, host: Netlink, *, strays: bool, tables: bool = True) -> None:
    """Remove a slot's tables and bridge, and with `strays` the veth ends left on it (a
    crashed server's: ~30 ms each; at a clean stop they go with their namespaces)."""
    if tables:
        with contextlib.suppress(OutboundError):
            _nft(
                f"table inet {bridge}\ndelete table inet {bridge}\n"
                f"table bridge {bridge}\ndelete table bridge {bridge}\n"
            )
    names = [bridge]
    if strays:
        names += [p.name for p in Path("/sys/class/net").glob(f"{bridge}-*")]
    for name in names:
        with contextlib.suppress(NetlinkError):
            host.delete_link(name)


def _claim_slot() -> tuple[int, int]:
    """A free slot and its lock's fd, held while this server runs."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    for slot in range(SLOTS):
        fd = os.open(LOCKS / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    raise OutboundError(f"all {SLOTS} outbound slots are held by other Ember servers")


def _others_running(own: int) -> bool:
    for slot in range(SLOTS):
        if slot == own:
            continue
        try:
            fd = os.open(LOCKS / f"slot-{slot}.lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False


def _forwarding_before() -> bool:
    """Whether the host forwarded before Ember turned it on (remembered across servers)."""
    before = LOCKS / _BEFORE
    if not before.exists():
        before.write_text(_FORWARD.read_text().strip())
    return before.read_text().strip() == "1"


class Outbound:
    """One server's slot: the bridge, the rules, the free addresses (thread-safe)."""

    def __init__(self, slot: int, lock_fd: int, host: Netlink, bridge_index: int) -> None:
        self.slot = slot
        self.bridge = f"ember{slot}"
        self.network = slot_network(slot)
        self.gateway = self.network.network_address + 1
        self._lock_fd = lock_fd
        self._host = host  # opened in the host's namespace: usable from any thread
        self._bridge_index = bridge_index
        hosts = range(2, self.network.num_addresses - 1)  # not the gateway nor broadcast
        self._free: collections.deque[int] = collections.deque(hosts)
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls) -> Outbound:
        """Claim a slot and set it up (blocking; root). OutboundError if it cannot be."""
        if os.geteuid() != 0:
            raise OutboundError("outbound NAT needs root")
        if shutil.which("nft") is None:
            raise OutboundError(
                "nftables is not installed (Debian/Ubuntu: apt-get install nftables)"
            )
        slot, lock_fd = _claim_slot()
        bridge, network = f"ember{slot}", slot_network(slot)
        host: Netlink | None = None
        try:
            clash = _routes_overlapping(network)
            if clash:
                raise OutboundError(f"{network} is in use on this host ({', '.join(clash)})")
            host = Netlink()
            _sweep(bridge, host, strays=True, tables=False)  # the ruleset replaces them
            host.add_bridge(bridge)
            index = socket.if_nametoindex(bridge)
            with contextlib.suppress(OSError):  # no IPv6 on the environments' side
                Path(f"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6").write_text("1")
            host.add_address(
                index, ipaddress.IPv4Interface(f"{network.network_address + 1}/{SLOT_PREFIX}")
            )
            host.set_up(index)
            _nft(ruleset(bridge, network, host_forwarded=_forwarding_before()))
            _FORWARD.write_text("1")
        except BaseException as exc:
            if host is not None:
                _sweep(bridge, host, strays=False)
                host.close()
            os.close(lock_fd)
            if isinstance(exc, OSError) and not isinstance(exc, OutboundError):
                raise OutboundError(f"cannot set up {bridge}: {exc}") from exc
            raise
        return cls(slot, lock_fd, host, index)

    def describe(self) -> str:
        return f"bridge {self.bridge}, {self.network}, NAT to the host's addresses"

    def attach(self, netns: int) -> Link:
        """Wire namespace fd `netns` up; call it from a thread that is inside it (the
        address and route are set through a netlink socket made there). Blocking."""
        for _ in range(8):  # tries: a released address's last pair may still be there
            with self._lock:
                if not self._free:
                    break
                index = self._free.popleft()
            name = f"{self.bridge}-{index}"
            try:
                self._host.add_veth(name, self._bridge_index, INSIDE, netns, INSIDE_INDEX)
            except NetlinkError as exc:
                self._put_back(index)
                if exc.errno == errno.EEXIST:  # its last namespace is still going
                    continue
                raise
            address = ipaddress.IPv4Interface(
                f"{self.network.network_address + index}/{SLOT_PREFIX}"
            )
            try:
                with Netlink() as inside:
                    inside.set_up(INSIDE_INDEX)
                    inside.add_address(INSIDE_INDEX, address)
                    inside.add_default_route(INSIDE_INDEX, self.gateway)
            except BaseException:
                self._put_back(index)  # the pair goes with the namespace the caller drops
                raise
            return Link(name, address, index)
        raise OutboundError(errno.EADDRNOTAVAIL, f"no free address in {self.network}")

    def _put_back(self, index: int) -> None:
        with self._lock:
            if not self._closed:
                self._free.append(index)

    def release(self, link: Link) -> None:
        """The environment is gone (non-blocking): its address goes to the back of the
        list, reused last; its veth pair goes with its namespace."""
        self._put_back(link.index)

    def close(self) -> None:
        """Remove the rules and the bridge, restore forwarding if this was the last of
        Ember's servers, free the slot (blocking). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            _sweep(self.bridge, self._host, strays=False)
            before = LOCKS / _BEFORE
            if not _others_running(self.slot) and before.exists():
                with contextlib.suppress(OSError):
                    if before.read_text().strip() == "0":
                        _FORWARD.write_text("0")
                    before.unlink()
        finally:
            self._host.close()
            os.close(self._lock_fd)
