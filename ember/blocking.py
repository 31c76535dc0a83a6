"""The one way blocking work (disk, zip, SQLite) leaves the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# A small dedicated pool: blocking calls here are short (fsync, unzip, a SQLite
# transaction) and must not queue behind anything else using the default executor.
WORKERS = 4  # threads; users of long calls (activation) keep some of them free
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ember-blocking")


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, functools.partial(fn, *args, **kwargs))
