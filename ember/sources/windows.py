"""Tumbling windows of a stream mapping (TumblingWindowInSeconds): records grouped by the
fixed window their arrival falls in, per shard, and the state the function returns carried
from one invocation of a window to the next, with a last invocation when the window ends."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from ember.clock import iso_millis

MAX_STATE = 1024 * 1024  # bytes of state Lambda carries; more ends the window early


@dataclasses.dataclass(slots=True)
class Window:
    start: float  # epoch seconds, a multiple of the window's length
    length: int
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    terminated_early: bool = False

    @property
    def end(self) -> float:
        return self.start + self.length

    def members(self, shard_id: str, stream_arn: str, *, final: bool) -> dict[str, Any]:
        """What the event carries beside `Records` (Lambda's tumbling-window shape)."""
        return {
            "window": {"start": iso_millis(self.start), "end": iso_millis(self.end)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": self.terminated_early,
        }

    def keep(self, payload: bytes) -> None:
        """The state a successful invocation returned becomes the window's."""
        try:
            response = orjson.loads(payload) if payload.strip() else None
        except orjson.JSONDecodeError:
            return
        state = response.get("state") if isinstance(response, dict) else None
        if isinstance(state, dict):
            if len(orjson.dumps(state)) > MAX_STATE:
                self.terminated_early = True
                return
            self.state = state


def window_start(arrival: float, length: int) -> float:
    return float(int(arrival // length) * length)
