"""The few rtnetlink requests Ember makes to wire an environment's namespace to the host: a
bridge, a veth pair with one end in the namespace, an address, a default route, a deletion.

Spoken directly on a NETLINK_ROUTE socket (struct packing, one request and its ack per
call): ~0.1 ms a request, where an `ip` subprocess costs ~2 ms and importing pyroute2 alone
~100 ms. A socket keeps the namespace it was opened in, so one opened in the host's
namespace configures the host from any thread.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import threading

# linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h
_NLMSG_ERROR = 2
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_RTM_NEWLINK, _RTM_DELLINK, _RTM_NEWADDR, _RTM_NEWROUTE = 16, 17, 20, 24
_IFLA_IFNAME, _IFLA_MASTER, _IFLA_LINKINFO, _IFLA_NET_NS_FD = 3, 10, 18, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_RTA_GATEWAY, _RTA_OIF = 5, 4
_RT_TABLE_MAIN, _RTPROT_STATIC, _RT_SCOPE_UNIVERSE, _RTN_UNICAST = 254, 4, 0, 1
IFF_UP = 0x1

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family … type, flags
_ERROR = struct.Struct("=i")


class NetlinkError(OSError):
    """The kernel refused a request (errno as in `ip`'s messages)."""


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(value: str) -> bytes:
    return value.encode() + b"\0"


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


class Netlink:
    """A NETLINK_ROUTE socket in the calling thread's network namespace (blocking calls;
    safe to share between threads)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, kind: int, flags: int, body: bytes) -> None:
        with self._lock:
            self._seq += 1
            seq = self._seq
            header = _HEADER.pack(
                _HEADER.size + len(body), kind, flags | _NLM_F_REQUEST | _NLM_F_ACK, seq, 0
            )
            self._sock.send(header + body)
            while True:  # the ack (an error message, 0 for success) for this request
                reply = self._sock.recv(65536)
                offset = 0
                while offset + _HEADER.size <= len(reply):
                    length, rtype, _, rseq, _ = _HEADER.unpack_from(reply, offset)
                    if rtype == _NLMSG_ERROR and rseq == seq:
                        (code,) = _ERROR.unpack_from(reply, offset + _HEADER.size)
                        if code:
                            raise NetlinkError(-code, os.strerror(-code))
                        return
                    offset += (length + 3) & ~3 or len(reply)

    def add_bridge(self, name: str) -> None:
        info = _attr(_IFLA_INFO_KIND, _name("bridge"))
        body = _ifinfo() + _attr(_IFLA_IFNAME, _name(name)) + _attr(_IFLA_LINKINFO, info)
        self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, body)

    def set_up(self, index: int) -> None:
        self._request(_RTM_NEWLINK, 0, _ifinfo(index, up=True))

    def add_veth(
        self, name: str, master: int, peer: str, peer_netns: int, peer_index: int = 0
    ) -> None:
        """A veth pair: `name` here, up, on bridge `master`; `peer` in namespace fd
        `peer_netns` (ifindex `peer_index` there, 0 for any), down — one request. (The
        kernel cannot bring the peer up before the pair is joined: ENOTCONN.)"""
        peer_msg = (
            _ifinfo(peer_index)
            + _attr(_IFLA_IFNAME, _name(peer))
            + _attr(_IFLA_NET_NS_FD, struct.pack("=I", peer_netns))
        )
        info = _attr(_IFLA_INFO_KIND, _name("veth")) + _attr(
            _IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_msg)
        )
        body = (
            _ifinfo(up=True)
            + _attr(_IFLA_IFNAME, _name(name))
            + _attr(_IFLA_MASTER, struct.pack("=I", master))
            + _attr(_IFLA_LINKINFO, info)
        )
        self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, body)

    def delete_link(self, name: str) -> None:
        """Delete a link (a veth takes its peer with it); NetlinkError ENODEV if none."""
        self._request(_RTM_DELLINK, 0, _ifinfo() + _attr(_IFLA_IFNAME, _name(name)))

    def add_address(self, index: int, interface: ipaddress.IPv4Interface) -> None:
        packed = interface.ip.packed
        body = (
            _IFADDR.pack(socket.AF_INET, interface.network.prefixlen, 0, _RT_SCOPE_UNIVERSE, index)
            + _attr(_IFA_LOCAL, packed)
            + _attr(_IFA_ADDRESS, packed)
        )
        self._request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, body)

    def add_default_route(self, index: int, gateway: ipaddress.IPv4Address) -> None:
        body = (
            _RTMSG.pack(
                socket.AF_INET,
                0,
                0,
                0,
                _RT_TABLE_MAIN,
                _RTPROT_STATIC,
                _RT_SCOPE_UNIVERSE,
                _RTN_UNICAST,
                0,
            )
            + _attr(_RTA_GATEWAY, gateway.packed)
            + _attr(_RTA_OIF, struct.pack("=I", index))
        )
        self._request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, body)
