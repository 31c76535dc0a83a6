from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, run_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by tests that only need a running Ember."""
    root = tmp_path_factory.mktemp("ember")
    with run_server(root / "data", "--idle-timeout", "60") as srv:
        yield srv


@pytest.fixture
def lam(server: Server) -> Any:
    return server.client()


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
