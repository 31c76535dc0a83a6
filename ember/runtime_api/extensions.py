"""The Extensions API's view of one environment: who registered, for what, and where each is.

Each extension is a small state machine with the RIE's state names (they appear in 403
bodies):

    (register) ──▶ Registered ──next──▶ Ready ──dispatch──▶ Running ──next──▶ Ready
                     │                    │                    │
                 init_error           exit_error           exit_error
                     ▼                    ▼                    ▼
                 InitError            ExitError            ExitError

External extensions are the executables in /opt/extensions (registered under their file
name); any other name is an internal one (registered from the runtime's process, INVOKE
only, and only until Init ends). Everything runs on the loop's thread: no locks.
"""

from __future__ import annotations

import asyncio
import enum
import json
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ember.runtime_api.errors import ExtensionRejectedError
from ember.runtime_api.invocation import Invocation
from ember.runtime_api.messages import JSON_CONTENT_TYPE, Reply, Request

MAX_EXTENSIONS = 10  # the RIE's MaxAgentsAllowed
INVOKE = "INVOKE"
SHUTDOWN = "SHUTDOWN"
NOT_ALLOWED = "State transition is not allowed"


class ExtensionState(enum.StrEnum):
    REGISTERED = "Registered"
    READY = "Ready"  # called next; parked until an event comes
    RUNNING = "Running"  # was handed an event, has not called next since
    INIT_ERROR = "InitError"
    EXIT_ERROR = "ExitError"


class ExtensionEvent(enum.StrEnum):
    NEXT = "Ready"
    DISPATCH = "Running"
    INIT_ERROR = "InitError"
    EXIT_ERROR = "Exited"  # the RIE names the target state of /exit/error "Exited"


_S, _E = ExtensionState, ExtensionEvent
TRANSITIONS: Mapping[tuple[ExtensionState, ExtensionEvent], ExtensionState] = MappingProxyType(
    {
        (_S.REGISTERED, _E.NEXT): _S.READY,
        (_S.REGISTERED, _E.INIT_ERROR): _S.INIT_ERROR,
        (_S.REGISTERED, _E.EXIT_ERROR): _S.EXIT_ERROR,
        (_S.READY, _E.NEXT): _S.READY,  # a re-poll after a dropped connection
        (_S.READY, _E.DISPATCH): _S.RUNNING,
        (_S.READY, _E.EXIT_ERROR): _S.EXIT_ERROR,
        (_S.RUNNING, _E.NEXT): _S.READY,
        (_S.RUNNING, _E.EXIT_ERROR): _S.EXIT_ERROR,
        # Repeated reports are accepted; only the first error type is kept.
        (_S.INIT_ERROR, _E.INIT_ERROR): _S.INIT_ERROR,
        (_S.EXIT_ERROR, _E.EXIT_ERROR): _S.EXIT_ERROR,
    }
)
_FAILED = frozenset({_S.INIT_ERROR, _S.EXIT_ERROR})


@dataclass(eq=False)
class Extension:
    name: str
    external: bool
    events: frozenset[str]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: ExtensionState = ExtensionState.REGISTERED
    error_type: str | None = None
    poll: Request | None = None  # its parked GET /event/next
    pending: deque[bytes] = field(default_factory=deque)  # event bodies not yet delivered


def _event_reply(body: bytes) -> Reply:
    headers = b"Lambda-Extension-Event-Identifier: %s\r\n%s" % (
        str(uuid.uuid4()).encode(),
        JSON_CONTENT_TYPE,
    )
    return Reply(200, body, headers)


class Extensions:
    """The extensions of one environment and the events on their way to them."""

    def __init__(self, metadata: Mapping[str, str], external: frozenset[str]) -> None:
        # functionName, functionVersion, handler: what /register answers.
        self._register_body = json.dumps(dict(metadata), separators=(",", ":")).encode()
        self._external_names = external
        self._by_id: dict[str, Extension] = {}
        self._by_name: dict[str, Extension] = {}
        self._registration_open = True
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False

    def declare_external(self, names: frozenset[str]) -> None:
        self._external_names = names

    @property
    def register_body(self) -> bytes:
        return self._register_body

    def all(self) -> list[Extension]:
        return list(self._by_id.values())

    # -- requests from extensions -----------------------------------------------------

    def register(self, name: str, events: list[str]) -> Extension:
        external = name in self._external_names
        for event in events:
            if event not in (INVOKE, SHUTDOWN):
                raise ExtensionRejectedError(
                    "Extension.InvalidEventType", f"{event}: ErrorInvalidEventType"
                )
            if not external and event == SHUTDOWN:
                raise ExtensionRejectedError(
                    "Extension.InvalidEventType",
                    f"{event}: ShutdownEventNotSupportedForInternalExtension",
                )
        existing = self._by_name.get(name)
        if existing is not None:
            if existing.external:
                raise _invalid_state(existing, "Registered", existing.name)
            raise ExtensionRejectedError(
                "Extension.InvalidExtensionState", "Extension with this name already registered"
            )
        if not external:
            if not self._registration_open:
                raise ExtensionRejectedError(
                    "Extension.RegistrationClosed", "Extension registration closed already"
                )
            if len(self._by_id) >= MAX_EXTENSIONS:
                raise ExtensionRejectedError(
                    "Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached"
                )
        extension = Extension(name=name, external=external, events=frozenset(events))
        self._by_id[extension.id] = extension
        self._by_name[name] = extension
        self._changed()
        return extension

    def find(self, extension_id: str, unknown_message: str) -> Extension:
        found = self._by_id.get(extension_id)
        if found is None:
            raise ExtensionRejectedError("Extension.UnknownExtensionIdentifier", unknown_message)
        return found

    def next(self, extension: Extension, poll: Request) -> Reply | None:
        """GET /event/next: the pending event at once, or park until one comes."""
        self._move(extension, ExtensionEvent.NEXT, extension.id)
        previous = extension.poll
        if previous is not None and previous is not poll:
            extension.poll = None
            previous.channel.close()
        if extension.pending:
            self._move(extension, ExtensionEvent.DISPATCH, extension.id)
            self._changed()
            return _event_reply(extension.pending.popleft())
        extension.poll = poll
        poll.on_drop = lambda dropped: self._dropped(extension, dropped)
        self._changed()
        return None

    def report_error(self, extension: Extension, event: ExtensionEvent, error_type: str) -> None:
        """POST /init/error (event INIT_ERROR) or /exit/error (EXIT_ERROR)."""
        self._move(extension, event, extension.id)
        if extension.error_type is None:
            extension.error_type = error_type
        self._changed()

    # -- calls from the platform ------------------------------------------------------

    def close_registration(self) -> None:
        self._registration_open = False

    def registered(self, names: frozenset[str]) -> bool:
        return names <= self._by_name.keys()

    def failure(self) -> Extension | None:
        """The first extension that reported an init or exit error, if any."""
        return next((e for e in self._by_id.values() if e.state in _FAILED), None)

    def settled(self) -> bool:
        """Every extension is parked in next (or failed): Init or an invocation is over."""
        return all(e.state is not _S.REGISTERED and e.state is not _S.RUNNING for e in self.all())

    def dispatch_invoke(self, invocation: Invocation) -> None:
        body = json.dumps(
            {
                "eventType": INVOKE,
                "deadlineMs": invocation.deadline_ms,
                "requestId": invocation.request_id,
                "invokedFunctionArn": invocation.invoked_function_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": invocation.trace_id},
            },
            separators=(",", ":"),
        ).encode()
        self._dispatch(INVOKE, body)

    def dispatch_shutdown(self, reason: str, deadline_ms: int) -> list[Extension]:
        """Send SHUTDOWN to its subscribers; the extensions it went to."""
        body = json.dumps(
            {"eventType": SHUTDOWN, "shutdownReason": reason, "deadlineMs": deadline_ms},
            separators=(",", ":"),
        ).encode()
        return self._dispatch(SHUTDOWN, body)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        while not condition() and not self.closed:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def close(self) -> None:
        self.closed = True
        for extension in self.all():
            extension.poll = None
        self._changed()

    # -- internals --------------------------------------------------------------------

    def _dispatch(self, event_type: str, body: bytes) -> list[Extension]:
        targets = [e for e in self.all() if event_type in e.events and e.state not in _FAILED]
        for extension in targets:
            if extension.state is _S.READY:
                # From here it owes a next for this event, whether its poll is alive or not.
                self._move(extension, ExtensionEvent.DISPATCH, extension.id)
                poll, extension.poll = extension.poll, None
                if poll is not None and not poll.closing:
                    poll.reply(_event_reply(body))
                    continue
            extension.pending.append(body)  # delivered on its next GET /event/next
        self._changed()
        return targets

    def _dropped(self, extension: Extension, poll: Request) -> None:
        if extension.poll is poll:
            extension.poll = None

    def _move(self, extension: Extension, event: ExtensionEvent, who: str) -> None:
        target = TRANSITIONS.get((extension.state, event))
        if target is None:
            raise _invalid_state(extension, event.value, who)
        extension.state = target

    def _changed(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)


def _invalid_state(extension: Extension, target: str, who: str) -> ExtensionRejectedError:
    """The RIE's StateTransitionFailedForExtensionMessageFormat."""
    return ExtensionRejectedError(
        "Extension.InvalidExtensionState",
        f"State transition from {extension.state} to {target} failed for extension {who}. "
        f"Error: {NOT_ALLOWED}",
    )
