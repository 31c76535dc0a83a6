"""A listener on the host's loopback that bench functions report to (the server runs with
`--host-access PORT`): one connection per environment, each line handed to the caller's
`take` under one condition, so the bench can wait for what it needs.
"""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from ember.sandbox import Isolation, probe
from ember.sandbox.network import HOST_NAME

# The start of a handler that reports to the listener: `_report(text)` sends over one
# connection per environment, opened on first use (after the handler read its clock).
REPORTER = """\
import base64
import json
import os
import socket
import time

_ADDRESS = (os.environ["REPORT_HOST"], int(os.environ["REPORT_PORT"]))
_CONN = []


def _report(text):
    if not _CONN:
        _CONN.append(socket.create_connection(_ADDRESS))
    _CONN[0].sendall(text.encode())

"""


def function_host() -> str:
    """How a function reaches the host's loopback (its own network namespace or not)."""
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return HOST_NAME if host.network else "127.0.0.1"


def report_variables(port: int) -> dict[str, str]:
    """The environment variables the bench handlers read their listener's address from."""
    return {"REPORT_HOST": function_host(), "REPORT_PORT": str(port)}


class Reports:
    """Reads the lines sent to `listener` on threads; `take(line)` runs under `ready`,
    which is notified after each line."""

    def __init__(self, listener: socket.socket, take: Callable[[str], None]) -> None:
        self.ready = threading.Condition()
        self._take = take
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:  # one connection per environment the functions use
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener closed: the bench is over
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        with conn, conn.makefile("r") as lines:
            for line in lines:
                with self.ready:
                    self._take(line)
                    self.ready.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, failure: str) -> None:
        """Until `predicate()` holds (checked under `ready`); RuntimeError(failure) after
        `timeout` seconds."""
        with self.ready:
            if not self.ready.wait_for(predicate, timeout=timeout):
                raise RuntimeError(failure)
