"""One real `ember serve` per fuzz module, with the resources the generated requests aim at."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.harness import Server, create_function, run_server
from tests.fuzz.model import ALIAS, FUNCTION, LAYER, ZIP_B64
from tests.fuzz.wire import Wire


@dataclass
class Target:
    server: Server
    wire: Wire


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("fuzz")
    with run_server(root / "data", "--idle-timeout", "60") as server:
        lam = server.client()
        create_function(lam, FUNCTION, "def handler(event, context):\n    return event\n")
        lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="$LATEST")
        lam.publish_layer_version(LayerName=LAYER, Content={"ZipFile": base64.b64decode(ZIP_B64)})
        wire = Wire(server)
        try:
            yield Target(server, wire)
        finally:
            wire.close()
        # Whatever it was sent, the server is still up and answering.
        assert server.process.poll() is None
        assert lam.get_account_settings()["ResponseMetadata"]["HTTPStatusCode"] == 200


def report(request: pytest.FixtureRequest, line: str) -> None:
    """A line in pytest's terminal output, captured or not."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
