from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.component.runtime_api.loops import LOOPS, Scenario


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    """Run one async scenario on a fresh loop (asyncio and uvloop), failing it after 10 s
    rather than hanging."""
    factory = LOOPS[request.param]

    def run(scenario: Scenario) -> None:
        async def bounded() -> None:
            async with asyncio.timeout(10):
                await scenario()

        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(bounded())

    return run
