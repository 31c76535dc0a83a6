"""Which `Runtime` values this host can run, and the command line that starts each."""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

PYTHON_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
PROVIDED_RUNTIMES = ("provided.al2", "provided.al2023")
BOOTSTRAP = Path(__file__).parent / "python" / "bootstrap.py"
RUNTIME_DIR = BOOTSTRAP.parent  # Ember's Python runtime: what Lambda has at /var/runtime

# Places interpreters live besides PATH: pyenv's real binaries (its shims on PATH are bash
# scripts that cost ~100 ms per start) and the usual prefixes.
_SEARCH_GLOBS = (
    "/usr/bin/python3.*",
    "/usr/local/bin/python3.*",
    os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*"),
    "/opt/python*/bin/python3.*",
)
_NAME = re.compile(r"python(3\.\d+)$")


@dataclasses.dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """How to start one runtime's process inside an environment."""

    name: str  # the Lambda Runtime value, e.g. "python3.12"
    interpreter: str  # the Python that runs it (for `provided`: the `python3` on PATH)

    @property
    def is_python(self) -> bool:
        return self.name.startswith("python")

    @property
    def prefix(self) -> str:
        """The interpreter's installation (its `bin/` and `lib/`), bound at /var/lang."""
        return os.path.dirname(os.path.dirname(os.path.realpath(self.interpreter)))

    def argv(
        self, task_root: str, *, lang: str | None = None, runtime_dir: str | None = None
    ) -> list[str]:
        """The runtime's command line; `lang` and `runtime_dir` are where the interpreter's
        prefix and Ember's runtime folder are seen (inside a sandbox), if not where they are."""
        if self.is_python:
            interpreter = self.interpreter
            if lang is not None:
                interpreter = f"{lang}/bin/{os.path.basename(os.path.realpath(interpreter))}"
            bootstrap = f"{runtime_dir}/{BOOTSTRAP.name}" if runtime_dir else str(BOOTSTRAP)
            # -S: no site import (stdlib only, like Lambda's own path; saves ~35 ms a start).
            return [interpreter, "-S", bootstrap]
        return [os.path.join(task_root, "bootstrap")]


def _is_fresh(source: Path, cached: Path) -> bool:
    try:
        return cached.stat().st_mtime >= source.stat().st_mtime
    except OSError:
        return False


def _is_real_binary(path: str) -> bool:
    """Skip shell-script shims: they cost a fork/exec chain on every cold start."""
    try:
        with open(path, "rb") as f:
            return f.read(2) != b"#!"
    except OSError:
        return False


def discover_interpreters(extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Map "3.X" to the path of a real interpreter binary for each version found."""
    found: dict[str, str] = {}
    candidates: list[str] = []
    for directory in os.get_exec_path():
        candidates.extend(glob.glob(os.path.join(directory, "python3.*")))
    for pattern in _SEARCH_GLOBS:
        candidates.extend(sorted(glob.glob(pattern), reverse=True))
    own = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    found[f"{sys.version_info.major}.{sys.version_info.minor}"] = own
    for path in candidates:
        match = _NAME.search(os.path.basename(path))
        if not match or match.group(1) in found:
            continue
        if os.access(path, os.X_OK) and _is_real_binary(path):
            found[match.group(1)] = os.path.realpath(path)
    for runtime, path in extra:
        found[runtime.removeprefix("python")] = path
    return found


class RuntimeCatalog:
    """The runtimes this server can run, fixed at start-up."""

    def __init__(self, interpreters: Mapping[str, str]) -> None:
        self._interpreters = dict(interpreters)
        own = f"{sys.version_info.major}.{sys.version_info.minor}"
        # `python3` inside environments (and so under `provided` runtimes) is the
        # interpreter the server itself runs on, so packages vendored with the same
        # pip build for it.
        self.default_python = self._interpreters.get(own) or os.path.realpath(sys.executable)
        self._specs: dict[str, RuntimeSpec] = {}
        for name in PYTHON_RUNTIMES:
            path = self._interpreters.get(name.removeprefix("python"))
            if path:
                self._specs[name] = RuntimeSpec(name, path)
        for name in PROVIDED_RUNTIMES:
            self._specs[name] = RuntimeSpec(name, self.default_python)

    @classmethod
    def discover(cls, extra: Iterable[tuple[str, str]] = ()) -> RuntimeCatalog:
        return cls(discover_interpreters(extra))

    def get(self, runtime: str) -> RuntimeSpec | None:
        return self._specs.get(runtime)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def interpreters(self) -> dict[str, str]:
        return dict(self._interpreters)

    def precompile(self) -> None:
        """Write the runtime's bytecode for every interpreter (blocking, once at start-up):
        inside a sandbox its folder is read-only, and cached modules start ~5 ms faster."""
        for spec in self._specs.values():
            if not spec.is_python:
                continue
            interpreter = spec.interpreter
            tag = f"cpython-{spec.name.removeprefix('python').replace('.', '')}"
            cache = RUNTIME_DIR / "__pycache__"
            if all(_is_fresh(m, cache / f"{m.stem}.{tag}.pyc") for m in RUNTIME_DIR.glob("*.py")):
                continue
            subprocess.run(
                [interpreter, "-m", "compileall", "-q", str(RUNTIME_DIR)],
                capture_output=True,
                check=False,
                timeout=60,
            )

    def python_bin_dir(self, root: Path) -> Path:
        """A folder holding `python3` and `python3.X` links, put first on PATH inside
        environments so a `provided` bootstrap's `python3` finds a real interpreter."""
        root.mkdir(parents=True, exist_ok=True)
        links = {"python3": self.default_python, "python": self.default_python}
        links.update({f"python{v}": p for v, p in self._interpreters.items()})
        for name, target in links.items():
            link = root / name
            if link.is_symlink() and os.readlink(link) == target:
                continue
            tmp = root / f".{name}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)
            os.replace(tmp, link)
        return root
