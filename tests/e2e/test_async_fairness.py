"""The asynchronous dispatcher is fair across functions: one function's deep backlog does not
keep another function's event waiting behind it. Functions report to a collector on the
host (tests/e2e/recorder.py), so the order is seen from outside."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Server, run_server, wait_until
from tests.e2e.recorder import Collector, create_recorder

pytestmark = pytest.mark.e2e

SLOTS = 2  # --async-concurrency
BACKLOG = 24


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ember-fair")
    args = ("--async-concurrency", str(SLOTS), "--idle-timeout", "60", *collector.access)
    with run_server(root / "data", *args) as server:
        yield server


def test_a_backlog_does_not_starve_another_function(srv: Server, collector: Collector) -> None:
    lam = srv.client()
    busy, quiet = f"busy-{uuid.uuid4().hex[:6]}", f"quiet-{uuid.uuid4().hex[:6]}"
    create_recorder(lam, busy, collector, sleep_ms=300, sink=True)
    create_recorder(lam, quiet, collector, sink=True)
    for n in range(BACKLOG):
        lam.invoke(FunctionName=busy, InvocationType="Event", Payload=json.dumps({"n": n}))
    # Accepted after the whole backlog: oldest-first dispatch would run it last.
    lam.invoke(FunctionName=quiet, InvocationType="Event", Payload=b'{"late": true}')
    (record,) = wait_until(lambda: collector.records(quiet), limit=60)
    wait_until(lambda: collector.count(busy) == BACKLOG, limit=60)
    before = [r for r in collector.records(busy) if r["t"] < record["t"]]
    # Round robin: it runs as soon as a slot frees, with at most a slot's worth ahead of it.
    assert len(before) <= 2 * SLOTS, len(before)
