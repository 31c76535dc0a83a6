"""Running test code inside a network namespace Ember made."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from ember.sandbox import network

T = TypeVar("T")


def inside(fd: int, call: Callable[[], T]) -> T:
    """`call()` in a thread inside namespace `fd` (its sockets are made there); what it
    raises is raised here."""
    result: list[T | BaseException] = []

    def run() -> None:
        try:
            with network.entered(fd):
                result.append(call())
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]
