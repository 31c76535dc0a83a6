"""What `make run` does, as the README tells a newcomer: `ember serve --data-dir .ember
--deploy examples` from a project folder (a relative data directory), then invoke."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.harness import REPO, run_server


def test_examples_deployed_from_a_relative_data_dir(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    with run_server(Path(".ember"), "--deploy", "examples", cwd=tmp_path) as server:
        lam = server.client()
        hello = lam.invoke(FunctionName="hello", Payload=b'{"name": "ada"}')
        assert "FunctionError" not in hello, hello["Payload"].read()
        assert json.loads(hello["Payload"].read())["message"] == "Hello, ada!"
        counts = [
            json.loads(lam.invoke(FunctionName="counter", Payload=b"{}")["Payload"].read())
            for _ in range(2)
        ]
        assert [c["invocations_in_this_environment"] for c in counts] == [1, 2]
        assert [c["tmp_file_length"] for c in counts] == [1, 2]
    assert (tmp_path / ".ember" / "ember.db").is_file()
