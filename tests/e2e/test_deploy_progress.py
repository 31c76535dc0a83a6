"""`ember deploy` of a large package says how its upload goes (a progress line on stderr);
a small one stays quiet. The shared server; the function is deleted after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.harness import Server


def deploy(server: Server, folder: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ember", "--endpoint", server.endpoint, "deploy", str(folder),
         "--name", name, "--handler", "app.handler", "--runtime", "python3.11"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def test_large_packages_show_upload_progress(server: Server, lam: Any, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (folder / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # does not compress
    try:
        created = deploy(server, folder, "progress-big")
        assert "created" in created.stdout
        lines = [x for x in created.stderr.splitlines() if x.startswith("uploading")]
        assert lines, created.stderr
        assert lines[-1].endswith("(100%)")
        assert " of 4.0 MB" in lines[-1]  # base64 in JSON: 4/3 of the zip
        updated = deploy(server, folder, "progress-big")  # UpdateFunctionCode too
        assert "(100%)" in updated.stderr
        small = tmp_path / "small"
        small.mkdir()
        (small / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
        quiet = deploy(server, small, "progress-big")
        assert "uploading" not in quiet.stderr
        assert lam.invoke(FunctionName="progress-big")["Payload"].read() == b'"ok"'
    finally:
        lam.delete_function(FunctionName="progress-big")
