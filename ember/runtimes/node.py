"""The Node.js runtimes: which `node` binaries this host has, by major version, and the
command line and NODE_PATH that Lambda's nodejs runtimes use."""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

# Every nodejs runtime AWS still accepts for new functions that Ember's runtime serves
# (callback handlers included; nodejs24.x dropped them), each runnable where a node of
# its major version is found.
NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
NODE_RUNTIME_DIR = Path(__file__).parent / "nodejs"  # Ember's Node.js runtime (/var/runtime)
ENTRY = "index.mjs"

# Places node binaries live besides PATH: nvm's and the usual prefixes.
_SEARCH_GLOBS = (
    "/usr/bin/node*",
    "/usr/local/bin/node*",
    "/usr/local/node*/bin/node",
    "/opt/node*/bin/node",
    "/usr/lib/nodejs*/bin/node",
    os.path.expanduser("~/.nvm/versions/node/v*/bin/node"),
)
_NAME = re.compile(r"(node|nodejs)(\d*)$")
_VERSION = re.compile(r"v(\d+)\.\d+\.\d+")


def major(runtime: str) -> str:
    """The major version a nodejs runtime names: nodejs20.x -> 20."""
    return runtime.removeprefix("nodejs").removesuffix(".x")


def node_versions(paths: Iterable[str]) -> dict[str, str]:
    """Each binary's `node --version` ("v20.20.2"; blocking, a few ms each, all at once)."""
    started = {}
    for path in set(paths):
        try:
            started[path] = subprocess.Popen(
                [path, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        except OSError:
            continue
    found = {}
    for path, process in started.items():
        try:
            out, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            continue
        text = out.decode(errors="replace").strip()
        if process.returncode == 0 and _VERSION.fullmatch(text):
            found[path] = text
    return found


def _is_real_binary(path: str) -> bool:
    """Skip shell-script shims (volta, asdf): they cost an exec chain on every start."""
    try:
        with open(path, "rb") as f:
            return f.read(2) != b"#!"
    except OSError:
        return False


def discover_nodes(extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Map a major version ("20") to the path of a real node binary of that version, the
    first found on PATH winning; `extra` pairs (major, path) win over discovery."""
    candidates: list[str] = []
    for directory in os.get_exec_path():
        candidates.extend(sorted(glob.glob(os.path.join(directory, "node*"))))
    for pattern in _SEARCH_GLOBS:
        candidates.extend(sorted(glob.glob(pattern), reverse=True))
    real: list[str] = []
    for path in candidates:
        if not _NAME.fullmatch(os.path.basename(path)):
            continue
        resolved = os.path.realpath(path)
        if resolved not in real and os.access(resolved, os.X_OK) and _is_real_binary(resolved):
            real.append(resolved)
    versions = node_versions(real)
    found: dict[str, str] = {}
    for path in real:  # in search order
        match = _VERSION.fullmatch(versions.get(path, ""))
        if match is not None:
            found.setdefault(match.group(1), path)
    for version, path in extra:
        found[major(version)] = path
    return found


def argv(node: str, entry: str, memory_mb: int | None) -> list[str]:
    """Lambda's node command line: V8's heap sized from MemorySize (a tenth for the new
    space, the rest for the old), larger HTTP headers, the runtime's entry point."""
    args = [node, "--expose-gc", "--max-http-header-size", "81920"]
    if memory_mb:
        new_space = memory_mb // 10
        args += [
            f"--max-semi-space-size={new_space // 2}",
            f"--max-old-space-size={memory_mb - new_space}",
        ]
    return [*args, entry]


def node_path(runtime: str, opt: str, runtime_dir: str, task: str) -> str:
    """Lambda's NODE_PATH: the layers' versioned and plain node_modules, the runtime's
    own, the runtime folder and the task root."""
    return ":".join(
        (
            f"{opt}/nodejs/node{major(runtime)}/node_modules",
            f"{opt}/nodejs/node_modules",
            f"{runtime_dir}/node_modules",
            runtime_dir,
            task,
        )
    )
