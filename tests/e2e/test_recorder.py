"""The collector the asynchronous tests count on, fed by raw sockets as a SIGKILL leaves
them: a line cut short, a connection reset with an `ok` unread, a line that is no record,
and environments still connected when the test ends."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest

from tests.e2e.harness import wait_until
from tests.e2e.recorder import Collector, running_collector

pytestmark = pytest.mark.e2e


def _line(function: str, n: int) -> bytes:
    return json.dumps({"function": function, "event": {"id": n}}).encode() + b"\n"


def _connect(collector: Collector) -> tuple[socket.socket, Any]:
    sock = socket.create_connection(("127.0.0.1", collector.port), timeout=5)
    return sock, sock.makefile("rb")


def _reset(sock: socket.socket) -> None:
    """Close as a killed process's socket with unread data does: with a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _ended(collector: Collector, connections: int) -> bool:
    stats = collector.statistics()
    return stats.torn + stats.resets >= connections


def test_records_are_confirmed_and_kept_in_order_per_function() -> None:
    with running_collector() as collector:
        sock, answers = _connect(collector)
        with sock, answers:
            for n in range(3):
                sock.sendall(_line("f", n))
                assert answers.readline() == b"ok\n"
            sock.sendall(_line("g", 9))
            assert answers.readline() == b"ok\n"
        assert [r["event"]["id"] for r in collector.records("f")] == [0, 1, 2]
        assert collector.count("f", "g") == 4
        assert collector.records("nobody") == []


def test_a_line_cut_short_is_dropped_and_the_collector_carries_on() -> None:
    with running_collector() as collector:
        sock, answers = _connect(collector)
        with sock, answers:
            sock.sendall(_line("f", 1))
            assert answers.readline() == b"ok\n"
            sock.sendall(_line("f", 2)[:10])  # then the sender dies: FIN
        wait_until(lambda: collector.statistics().torn == 1)

        sock, answers = _connect(collector)
        sock.sendall(_line("f", 3) + _line("f", 4)[:7])
        assert answers.readline() == b"ok\n"
        answers.close()
        _reset(sock)  # dies mid-line with nothing unread: a reset all the same
        wait_until(lambda: _ended(collector, 2))

        sock, answers = _connect(collector)
        sock.sendall(_line("f", 5))  # dies before reading its `ok`
        wait_until(lambda: collector.count("f") == 3)
        answers.close()
        _reset(sock)
        wait_until(lambda: _ended(collector, 3))

        sock, answers = _connect(collector)
        with sock, answers:
            sock.sendall(_line("f", 6))
            assert answers.readline() == b"ok\n"
        assert [r["event"]["id"] for r in collector.records("f")] == [1, 3, 5, 6]
        assert collector.statistics().records == 4
        assert collector.statistics().connections == 4


def test_a_complete_line_that_is_no_record_fails_the_readers() -> None:
    with running_collector() as collector:
        sock, answers = _connect(collector)
        with sock, answers:
            sock.sendall(b"not json\n")
            assert answers.readline() == b""  # no `ok`: the sender's invocation fails
        with pytest.raises(AssertionError, match="1 garbled records, the first: b'not json"):
            collector.records("f")
        with pytest.raises(AssertionError, match="garbled"):
            collector.count("f")


def test_connections_still_open_do_not_hold_up_the_end() -> None:
    with running_collector() as collector:
        sock, answers = _connect(collector)
        sock.sendall(_line("f", 1))
        assert answers.readline() == b"ok\n"
    # Leaving the block returned (a collector that waited for this connection never ends:
    # the client below has not hung up), and it hung up on the connection.
    assert answers.readline() == b""
    answers.close()
    sock.close()
