"""Ember as a user installs it: a wheel, in a fresh virtual environment without the dev
extras, whose `ember serve` starts and runs a function.

Every runtime import must come from a declared dependency (botocore, which the API model
is read from, once came only with the dev extras' boto3). The dependencies come from the
package index through pip's cache, so a second run costs seconds, not a download.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, Server, create_function, free_port, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]  # ~7 s with a warm pip cache

# What goes into the wheel: the build's inputs only (no caches, no virtual environment).
SOURCES = ("pyproject.toml", "README.md", "ember")


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, cwd=cwd, timeout=150
    )
    assert done.returncode == 0, f"{argv[:4]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(source: Path, out: Path) -> Path:
    """`pip wheel --no-deps` of a copy of the tree (an in-tree build would leave build/)."""
    tree = out / "src"
    tree.mkdir(parents=True)
    for name in SOURCES:
        if (source / name).is_dir():
            shutil.copytree(
                source / name, tree / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source / name, tree / name)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, tree)
    (wheel,) = out.glob("ember-*.whl")
    return wheel


def fresh_venv(wheel: Path, root: Path) -> Path:
    """A new virtual environment with the wheel and its declared dependencies only."""
    venv = root / "venv"
    # No pip of its own (ensurepip costs seconds): this interpreter's pip installs into it.
    base = getattr(sys, "_base_executable", sys.executable)
    _run(base, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel)
    return venv


def test_wheel_installed_without_dev_extras_serves_and_invokes(tmp_path: Path) -> None:
    wheel = build_wheel(REPO, tmp_path / "dist")
    venv = fresh_venv(wheel, tmp_path)
    # Not the dev extras: the package index gave what pyproject declares, nothing more.
    assert not list((venv / "lib").glob("python3.*/site-packages/boto3"))

    port = free_port()
    data = tmp_path / "data"
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [venv / "bin" / "ember", "serve", "--port", str(port), "--data-dir", data],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,  # not the repository: nothing importable from the checkout
        )
    try:
        wait_ready(port, process, log_path)
        server = Server(process, port, data, log_path)
        lam = server.client()
        code = "def handler(event, context):\n    return {'echo': event['n'] + 1}\n"
        create_function(lam, "packaged", code)
        answer = lam.invoke(FunctionName="packaged", Payload=b'{"n": 41}')
        assert answer["StatusCode"] == 200, server.output()
        assert json.loads(answer["Payload"].read()) == {"echo": 42}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
