"""Access keys in the data dir: what `ember keys` writes, as the server reads it."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from ember.clock import ManualClock
from ember.control.keys import open_keys


def test_keys_are_created_listed_deleted_and_private(tmp_path: Path) -> None:
    clock = ManualClock()
    keys, store = open_keys(tmp_path, clock)
    try:
        first = keys.create()
        clock.advance(1)
        second = keys.create()
        assert first.key_id.startswith("AKIA")
        assert len(first.key_id) == 20
        assert len(first.secret) == 40
        assert [k.key_id for k in keys.list()] == [first.key_id, second.key_id]
        assert keys.delete(first.key_id)
        assert not keys.delete(first.key_id)
        assert [k.key_id for k in keys.list()] == [second.key_id]
    finally:
        store.close()
    assert stat.S_IMODE((tmp_path / "ember.db").stat().st_mode) == 0o600


def test_the_server_sees_changes_made_elsewhere_within_a_second(tmp_path: Path) -> None:
    clock = ManualClock()
    server_keys, server_store = open_keys(tmp_path, clock)
    cli_keys, cli_store = open_keys(tmp_path, clock)  # `ember keys` on the same data dir

    async def scenario() -> None:
        assert await server_keys.secret("AKIANOPE") is None
        key = cli_keys.create()
        clock.advance(0.06)  # an unknown key makes the server look again, soon
        assert await server_keys.secret(key.key_id) == key.secret
        cli_keys.delete(key.key_id)
        assert await server_keys.secret(key.key_id) == key.secret  # cached...
        clock.advance(1.01)
        assert await server_keys.secret(key.key_id) is None  # ...for at most a second

    try:
        asyncio.run(scenario())
    finally:
        server_store.close()
        cli_store.close()
