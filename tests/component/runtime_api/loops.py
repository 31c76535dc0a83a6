"""The event loops every Runtime API component test runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import uvloop

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}
Scenario = Callable[[], Awaitable[None]]
