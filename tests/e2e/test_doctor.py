"""`ember doctor` and the start-up line say which guarantees hold; without bubblewrap Ember
still runs (as plain processes), unless `--isolation bwrap` demands it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, create_function, run_server
from tests.e2e.test_isolation import CGROUPS, NAMESPACES

pytestmark = pytest.mark.e2e
NO_BWRAP = "/nonexistent"  # a PATH without bubblewrap (or anything else)


def _doctor(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = None if path is None else {"PATH": path}
    return subprocess.run(
        [sys.executable, "-m", "ember", "doctor", *args],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not (NAMESPACES and CGROUPS), reason="this host lacks bubblewrap or cgroups")
def test_doctor_on_a_host_with_everything() -> None:
    result = _doctor()
    assert result.returncode == 0, result.stdout + result.stderr
    for what in ("namespaces", "filesystem", "user", "memory", "cpu", "pids", "freezer"):
        assert f"[ok] {what}:" in result.stdout


def test_doctor_says_what_stands_in_without_bubblewrap() -> None:
    result = _doctor(path=NO_BWRAP)
    assert result.returncode == 1
    assert "[--] namespaces: no (bubblewrap is not installed" in result.stdout
    assert "[--] /tmp size: no: /tmp is the host's" in result.stdout
    assert ("[ok] memory:" in result.stdout) == CGROUPS


def test_doctor_with_isolation_none_holds_nothing() -> None:
    result = _doctor("--isolation", "none")
    assert result.returncode == 1
    assert "isolation: none" in result.stdout
    assert "[ok]" not in result.stdout


def test_bwrap_mode_refuses_to_start_without_bubblewrap(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ember", "serve", "--isolation", "bwrap", "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, cwd=REPO, env={"PATH": NO_BWRAP}, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "ember: --isolation bwrap: bubblewrap is not installed" in result.stderr


def test_without_bubblewrap_functions_still_run_and_the_banner_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", NO_BWRAP)
    with run_server(tmp_path / "data") as server:
        lam = server.client()
        create_function(
            lam,
            "plain",
            "import os\ndef handler(e, c):\n    return os.environ['LAMBDA_TASK_ROOT']\n",
        )
        task_root = json.loads(lam.invoke(FunctionName="plain")["Payload"].read())
        banner = server.output()
    assert "isolation: plain processes (bubblewrap is not installed" in banner
    assert Path(task_root).is_dir()  # the host's folder: nothing is mounted at /var/task
