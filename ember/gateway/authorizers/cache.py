"""Lambda authorizers' answers kept for AuthorizerResultTtlInSeconds, keyed by the
authorizer and its identity-source values (as API Gateway caches them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ember.clock import Clock

MAX_ENTRIES = 10_000  # answers kept at most; expired ones go first, then the oldest


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A Lambda authorizer's valid answer: a simple one (`authorized`) or an IAM policy
    (`policy`, evaluated again for each route ARN when served from the cache)."""

    authorized: bool = False
    policy: Mapping[str, Any] | None = None
    principal_id: str | None = None
    context: Mapping[str, Any] | None = None


# (authorizer id, configuration fingerprint, identity-source values)
Key = tuple[str, tuple[object, ...], tuple[str, ...]]


class ResultCache:
    def __init__(self, clock: Clock, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: dict[Key, tuple[float, Answer]] = {}  # key -> (expires, answer)

    def get(self, key: Key) -> Answer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock.monotonic() >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: Key, answer: Answer, ttl: float) -> None:
        if len(self._entries) >= self._max:
            self._evict()
        self._entries[key] = (self._clock.monotonic() + ttl, answer)

    def forget(self, authorizer_id: str) -> None:
        """Drop the answers of one authorizer (updated or deleted)."""
        for key in [key for key in self._entries if key[0] == authorizer_id]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        now = self._clock.monotonic()
        for key in [key for key, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
