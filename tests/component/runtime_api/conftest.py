"""Every scenario runs on the default asyncio loop and on uvloop (what `ember serve` uses)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}
Scenario = Callable[[], Awaitable[None]]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    """Run one async scenario on a fresh loop, failing it after 10 s rather than hanging."""
    factory = LOOPS[request.param]

    def run(scenario: Scenario) -> None:
        async def bounded() -> None:
            async with asyncio.timeout(10):
                await scenario()

        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(bounded())

    return run
