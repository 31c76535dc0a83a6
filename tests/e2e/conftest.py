from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, free_port, run_server
from tests.e2e.recorder import Collector, running_collector


@pytest.fixture(scope="session")
def host_service_port() -> int:
    """A host loopback port the shared server's functions may reach (as `function_host()`):
    a test that needs a service on the host listens there."""
    return free_port()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, host_service_port: int) -> Iterator[Server]:
    """One server shared by tests that only need a running Ember."""
    root = tmp_path_factory.mktemp("ember")
    access = ("--host-access", str(host_service_port))
    with run_server(root / "data", "--idle-timeout", "60", *access) as srv:
        yield srv


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    """A collector for recording functions (tests/e2e/recorder.py), one per module: start
    the module's server with `*collector.access`."""
    with running_collector() as running:
        yield running


@pytest.fixture
def lam(server: Server) -> Any:
    return server.client()


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
