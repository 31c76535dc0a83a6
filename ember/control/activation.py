"""The activation worker: carries functions from Pending to Active, and updates from
InProgress to Successful, by unpacking their code — several functions at a time.

Rules it keeps: at most `slots` activations run at once (each holds a thread of the
blocking pool while it unpacks); one function is never activated twice at the same time,
and a request that arrives while it is being activated runs after that activation ends,
so its updates settle in the order they were made. Every activation is a task of the
TaskGroup inside `run()`: cancelling `run()` cancels them all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from ember.blocking import WORKERS, run_blocking
from ember.control import codezip, images
from ember.control.model import FunctionConfig, FunctionState, UpdateStatus
from ember.errors import InvalidParameterValueError, ServiceError
from ember.store import BlobStore

log = logging.getLogger("ember.control")

# Functions unpacked at once. One thread of the blocking pool stays free of unpacking
# (which takes seconds for a 65,535-entry zip), so that the SQLite writes and zip checks
# of API calls never queue behind it.
SLOTS = max(1, WORKERS - 1)

# $LATEST of a function by name, None once deleted.
Lookup = Callable[[str], FunctionConfig | None]
# (the config activation started from, that config Active or Failed): the resource model
# makes it known unless the function changed meanwhile.
Settle = Callable[[FunctionConfig, FunctionConfig], Awaitable[None]]


def is_settled(config: FunctionConfig) -> bool:
    """Active (or Failed) with no update in progress: nothing left to activate."""
    return (
        config.state is not FunctionState.PENDING
        and config.last_update_status is not UpdateStatus.IN_PROGRESS
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ActivationStatistics:
    queued: int  # functions waiting for a slot
    running: int  # activations holding a slot


class Activation:
    """The queue of functions to activate and the loop that works through it."""

    def __init__(
        self,
        blobs: BlobStore,
        *,
        lookup: Lookup,
        code_path: Callable[[FunctionConfig], Path],
        settle: Settle,
        slots: int = SLOTS,
        images_root: Path | None = None,
    ) -> None:
        self._blobs = blobs
        self._images = images_root  # where fetched image sources wait (images.fetched)
        self._lookup = lookup
        self._code_path = code_path
        self._settle = settle
        self._slots = asyncio.Semaphore(slots)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()  # in `_queue`: asking again changes nothing
        self._claimed: set[str] = set()  # taken from the queue, until its activation ends
        self._again: set[str] = set()  # asked for while claimed: queued when that ends
        self._running = 0

    def request(self, name: str) -> None:
        """Activate `name` (as it is when its turn comes)."""
        if name in self._claimed:
            self._again.add(name)
        elif name not in self._queued:
            self._queued.add(name)
            self._queue.put_nowait(name)

    def statistics(self) -> ActivationStatistics:
        # Claimed but not running: taken from the queue, waiting for a slot.
        waiting = len(self._claimed) - self._running
        return ActivationStatistics(queued=len(self._queued) + waiting, running=self._running)

    async def run(self) -> None:
        """Work through the queue until cancelled (which cancels activations in flight)."""
        async with asyncio.TaskGroup() as tasks:
            while True:
                name = await self._queue.get()
                self._queued.discard(name)
                self._claimed.add(name)
                try:
                    await self._slots.acquire()
                except asyncio.CancelledError:
                    self._claimed.discard(name)
                    self.request(name)  # still to do if this worker runs again
                    raise
                self._running += 1
                tasks.create_task(self._hold_slot(name), name=f"activate:{name}")

    async def _hold_slot(self, name: str) -> None:
        try:
            await self._activate(name)
        finally:
            self._running -= 1
            self._slots.release()
            self._claimed.discard(name)
            if name in self._again:
                self._again.discard(name)
                self.request(name)

    async def _activate(self, name: str) -> None:
        """Unpack the function's code, then hand the result to the resource model."""
        config = self._lookup(name)
        if config is None or is_settled(config):
            return
        image_meta = config.image_meta
        try:
            if config.is_image:
                meta = await run_blocking(self._unpack_image, config)
                image_meta = meta.to_doc()
            else:
                data = await run_blocking(self._blobs.read, config.code_digest)
                await run_blocking(codezip.unpack, data, self._code_path(config))
            settled = dataclasses.replace(
                config,
                state=FunctionState.ACTIVE,
                state_reason="",
                state_reason_code="",
                last_update_status=UpdateStatus.SUCCESSFUL,
                last_update_status_reason="",
                image_meta=image_meta,
                failure_code="",
            )
        except (ServiceError, InvalidParameterValueError, OSError, *_IMAGE_FAILURES) as exc:
            log.error("function %s could not be activated: %s", name, exc)
            code = _IMAGE_ERRORS.get(type(exc), "InternalError")
            settled = dataclasses.replace(
                config,
                state=FunctionState.FAILED,
                state_reason=_failure_reason(config, exc),
                state_reason_code=code,
                last_update_status=UpdateStatus.FAILED,
                last_update_status_reason=_failure_reason(config, exc),
                failure_code=code,
            )
        await self._settle(config, settled)

    def _unpack_image(self, config: FunctionConfig) -> images.ImageMeta:
        """The image's root file system, from the copy CreateFunction or UpdateFunctionCode
        fetched (archives, registries) or the layout folder itself (blocking)."""
        digest = f"sha256:{config.code_digest}"
        layout = Path(images.parse_uri(config.image_uri).location)
        if self._images is not None and images.fetched(self._images, digest).is_dir():
            layout = images.fetched(self._images, digest)
        return images.unpack(layout, digest, self._code_path(config))


# Why an image could not be unpacked, as Lambda's StateReasonCode names it.
_IMAGE_ERRORS: dict[type[Exception], str] = {
    images.InvalidImageError: "InvalidImage",
    images.ImageAccessDeniedError: "ImageAccessDenied",
    images.ImageNotFoundError: "ImageAccessDenied",
}
_IMAGE_FAILURES = (
    images.InvalidImageError,
    images.ImageAccessDeniedError,
    images.ImageNotFoundError,
)


def _failure_reason(config: FunctionConfig, exc: Exception) -> str:
    if isinstance(exc, images.InvalidImageError):
        return f"The source image {config.image_uri} is not valid: {exc}"
    if isinstance(exc, images.ImageAccessDeniedError | images.ImageNotFoundError):
        return f"Lambda cannot read the source image {config.image_uri}: {exc}"
    return str(exc)
