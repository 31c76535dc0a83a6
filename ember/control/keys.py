"""Access keys that may sign requests to Ember (`ember keys create | list | delete`), kept
in the metadata store so that `ember keys` works on the data dir while the server runs.

The server reads them through a cache that it reloads at most once a second, and at most
20 times a second when asked for a key it does not know: a key created or deleted by
`ember keys` takes effect within a second.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.store import DataLayout, MetadataStore

KIND = "access-key"
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_REFRESH = 1.0  # seconds a loaded set of keys is trusted
_MISS_REFRESH = 0.05  # seconds between reloads caused by unknown keys


@dataclasses.dataclass(frozen=True, slots=True)
class AccessKey:
    key_id: str
    secret: str
    created: float  # wall seconds


class AccessKeys:
    def __init__(self, metadata: MetadataStore, clock: Clock) -> None:
        self._metadata = metadata
        self._clock = clock
        self._cache: dict[str, str] = {}  # key id -> secret
        self._loaded_at: float | None = None  # monotonic

    # -- administration (blocking: the CLI's, or off the loop) ------------------------

    def create(self) -> AccessKey:
        key = AccessKey(
            key_id="AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret=secrets.token_urlsafe(30),  # 40 characters, as AWS's secrets
            created=self._clock.wall(),
        )
        self._metadata.write(puts=[(KIND, key.key_id, dataclasses.asdict(key))])
        return key

    def list(self) -> list[AccessKey]:
        docs = self._metadata.load(KIND)
        return sorted((AccessKey(**doc) for doc in docs.values()), key=lambda k: k.created)

    def delete(self, key_id: str) -> bool:
        if key_id not in self._metadata.load(KIND):
            return False
        self._metadata.write(deletes=[(KIND, key_id)])
        return True

    # -- the server's view ------------------------------------------------------------

    async def secret(self, key_id: str) -> str | None:
        """The secret of `key_id`, or None when no such key exists."""
        now = self._clock.monotonic()
        age = None if self._loaded_at is None else now - self._loaded_at
        if age is None or age > _REFRESH or (key_id not in self._cache and age > _MISS_REFRESH):
            self._loaded_at = now  # one reload at a time; others use what is loaded
            docs = await run_blocking(self._metadata.load, KIND)
            self._cache = {k: doc["secret"] for k, doc in docs.items()}
        return self._cache.get(key_id)

    async def count(self) -> int:
        docs = await run_blocking(self._metadata.load, KIND)
        return len(docs)


def open_keys(data_dir: Path, clock: Clock) -> tuple[AccessKeys, MetadataStore]:
    """The keys of the data dir at `data_dir` (for `ember keys`); close the store after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = DataLayout.at(data_dir).metadata
    metadata = MetadataStore(database)
    # The secrets live in this file (the server needs them to check signatures): owner
    # only, with SQLite's -wal and -shm files beside it.
    for path in database.parent.glob(f"{database.name}*"):
        path.chmod(0o600)
    return AccessKeys(metadata, clock), metadata
