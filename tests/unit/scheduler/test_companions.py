"""An environment's external extensions: their Shutdown phase on the injected clock, and the
first death that Init races against."""

from __future__ import annotations

import asyncio
from typing import cast

from ember.clock import ManualClock
from ember.runtime_api import RuntimeEndpoint
from ember.scheduler.companions import EXTENSION_SHUTDOWN, Companions


class _Endpoint:
    """Records what the Extensions API was told; `subscribed` asked for SHUTDOWN."""

    def __init__(self, subscribed: bool = True) -> None:
        self.declared: frozenset[str] = frozenset()
        self.shutdowns: list[tuple[str, int]] = []
        self._subscribed = subscribed

    def declare_external_extensions(self, names: frozenset[str]) -> None:
        self.declared = names

    def shutdown_extensions(self, reason: str, deadline_ms: int) -> list[str]:
        self.shutdowns.append((reason, deadline_ms))
        return ["ext"] if self._subscribed else []


async def _until_waiting(clock: ManualClock) -> None:
    while not clock.pending():  # noqa: ASYNC110 (one loop turn at a time)
        await asyncio.sleep(0)


def test_shutdown_waits_for_the_extensions_up_to_lambdas_two_seconds() -> None:
    async def main() -> None:
        clock = ManualClock()
        endpoint = _Endpoint()
        companions = Companions(cast(RuntimeEndpoint, endpoint), clock)
        companions.declare(frozenset({"a", "b"}))
        assert endpoint.declared == {"a", "b"}
        stopping = asyncio.create_task(companions.shut_down("spindown"))
        await asyncio.wait_for(_until_waiting(clock), 2)
        deadline_ms = int((clock.wall() + EXTENSION_SHUTDOWN) * 1000)
        assert endpoint.shutdowns == [("spindown", deadline_ms)]
        companions.exited("a")
        clock.advance(EXTENSION_SHUTDOWN - 0.1)
        await asyncio.sleep(0)
        assert not stopping.done()  # "b" still runs, and its time is not up
        clock.advance(0.1)
        await asyncio.wait_for(stopping, 2)  # the deadline: the runtime's SIGKILL follows

    asyncio.run(main())


def test_shutdown_ends_when_the_last_extension_exits() -> None:
    async def main() -> None:
        clock = ManualClock()
        companions = Companions(cast(RuntimeEndpoint, _Endpoint()), clock)
        companions.declare(frozenset({"a"}))
        stopping = asyncio.create_task(companions.shut_down("failure"))
        await asyncio.wait_for(_until_waiting(clock), 2)
        companions.exited("a")
        await asyncio.wait_for(stopping, 2)  # no clock advance needed

    asyncio.run(main())


def test_no_wait_when_none_runs_or_none_asked_for_shutdown() -> None:
    async def main() -> None:
        clock = ManualClock()
        none_left = _Endpoint()
        companions = Companions(cast(RuntimeEndpoint, none_left), clock)
        companions.declare(frozenset({"a"}))
        companions.exited("a")
        await asyncio.wait_for(companions.shut_down("spindown"), 2)
        assert none_left.shutdowns == []

        unsubscribed = _Endpoint(subscribed=False)
        companions = Companions(cast(RuntimeEndpoint, unsubscribed), clock)
        companions.declare(frozenset({"a"}))
        await asyncio.wait_for(companions.shut_down("spindown"), 2)
        assert len(unsubscribed.shutdowns) == 1

    asyncio.run(main())


def test_the_first_crash_is_the_one_init_sees() -> None:
    async def main() -> None:
        companions = Companions(cast(RuntimeEndpoint, _Endpoint()), ManualClock())
        companions.declare(frozenset({"a", "b"}))
        companions.exited("a")
        companions.crashed("a", 1)
        companions.exited("b")
        companions.crashed("b", 2)
        assert companions.crash.result() == ("a", 1)

    asyncio.run(main())
