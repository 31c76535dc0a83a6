"""Which `Runtime` values this host can run, and the command line that starts each."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ember.runtimes import jvm, node

# Every python3.x AWS still accepts (its recorded CreateFunction answers list 3.8 and 3.9
# beside 3.10-3.14), each runnable where an interpreter for it is found.
PYTHON_RUNTIMES = (
    "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13",
    "python3.14",
)  # fmt: skip
PROVIDED_RUNTIMES = ("provided.al2", "provided.al2023")
BOOTSTRAP = Path(__file__).parent / "python" / "bootstrap.py"
RUNTIME_DIR = BOOTSTRAP.parent  # Ember's Python runtime: what Lambda has at /var/runtime
# Where `make` installs boto3 and botocore for functions (AWS's Python runtimes ship them):
# one pure-Python copy shared by every python3.x, beside the server's own environment.
DEFAULT_SDK_DIR = Path(sys.prefix) / "share" / "ember" / "python-sdk"
SDK_PACKAGES = ("boto3", "botocore")
# The variable that tells Ember's Python runtime where that copy is (it removes it).
SDK_VARIABLE = "_EMBER_SDK_DIR"

# Places interpreters live besides PATH: pyenv's real binaries (its shims on PATH are bash
# scripts that cost ~100 ms per start) and the usual prefixes.
_SEARCH_GLOBS = (
    "/usr/bin/python3.*",
    "/usr/local/bin/python3.*",
    os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*"),
    "/opt/python*/bin/python3.*",
)
_NAME = re.compile(r"python(3\.\d+)$")
_MIN_PYTHON = re.compile(r">=\s*3\.(\d+)")


@dataclasses.dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """How to start one runtime's process inside an environment."""

    name: str  # the Lambda Runtime value, e.g. "python3.12"
    # The Python (or for nodejs, the node binary) that runs it (for `provided`: the
    # `python3` on PATH).
    interpreter: str
    # boto3 and botocore for this runtime's functions (python3.x only; None: not installed).
    sdk_dir: str | None = None

    @property
    def is_python(self) -> bool:
        return self.name.startswith("python")

    @property
    def is_node(self) -> bool:
        return self.name.startswith("nodejs")

    @property
    def is_java(self) -> bool:
        return self.name.startswith("java")

    @property
    def is_managed(self) -> bool:
        """A runtime Ember ships (python3.x, nodejs, java), not the function's own `bootstrap`."""
        return self.is_python or self.is_node or self.is_java

    @property
    def runtime_dir(self) -> str:
        """Ember's runtime for it, bound at /var/runtime."""
        if self.is_java:
            return str(jvm.DEFAULT_JAVA_DIR)  # the jar `make` built, in its lib/
        return str(node.NODE_RUNTIME_DIR if self.is_node else RUNTIME_DIR)

    @property
    def extra_binds(self) -> tuple[str, ...]:
        """Host folders its interpreter needs inside a sandbox, bound at the same paths."""
        return jvm.outside_links(self.prefix) if self.is_java else ()

    @property
    def prefix(self) -> str:
        """The interpreter's installation (its `bin/` and `lib/`), bound at /var/lang."""
        return os.path.dirname(os.path.dirname(os.path.realpath(self.interpreter)))

    def argv(
        self,
        task_root: str,
        *,
        lang: str | None = None,
        runtime_dir: str | None = None,
        memory_mb: int | None = None,
    ) -> list[str]:
        """The runtime's command line; `lang` and `runtime_dir` are where the interpreter's
        prefix and Ember's runtime folder are seen (inside a sandbox), if not where they are;
        `memory_mb` sizes node's heap."""
        interpreter = self.interpreter
        if lang is not None:
            interpreter = f"{lang}/bin/{os.path.basename(os.path.realpath(interpreter))}"
        if self.is_node:
            entry = f"{runtime_dir or node.NODE_RUNTIME_DIR}/{node.ENTRY}"
            return node.argv(interpreter, entry, memory_mb)
        if self.is_java:
            # The class data archive is recorded for sandboxes' class path (see jvm.py).
            archive = None
            if runtime_dir == jvm.SANDBOX_DIR:
                archive = jvm.shared_archive(jvm.DEFAULT_JAVA_DIR, self.interpreter)
            java_dir = runtime_dir or self.runtime_dir
            return jvm.argv(interpreter, java_dir, jvm.major(self.name), memory_mb, archive)
        if self.is_python:
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


def sdk_installed(folder: Path) -> bool:
    """Does `folder` hold the SDK (boto3 and botocore importable from it)?"""
    return all((folder / name / "__init__.py").is_file() for name in SDK_PACKAGES)


def sdk_versions(folder: Path) -> dict[str, str]:
    """The SDK's package versions, read from pip's metadata folders (no import)."""
    found: dict[str, str] = {}
    for name in SDK_PACKAGES:
        for meta in sorted(folder.glob(f"{name}-*.dist-info")):
            found[name] = meta.name.removesuffix(".dist-info").split("-", 1)[1]
    return found


def sdk_minimum(folder: Path) -> int:
    """The lowest python3 minor version every SDK package supports (their Requires-Python):
    urllib3 2.x, for one, needs 3.10, so older runtimes get no shared copy."""
    minimum = 0
    for metadata in folder.glob("*.dist-info/METADATA"):
        with open(metadata, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("Requires-Python:"):
                    for minor in _MIN_PYTHON.findall(line):
                        minimum = max(minimum, int(minor))
                    break
                if not line.strip():
                    break  # the end of the headers
    return minimum


def runtime_version_arn(region: str, runtime: str, version: str) -> str:
    """A runtime version ARN in AWS's form (`arn:aws:lambda:<region>::runtime:<64 hex>`):
    the SHA-256 of "<runtime>:<the interpreter's sys.version>", so it changes exactly when
    the interpreter behind the runtime does (an upgrade, another build)."""
    digest = hashlib.sha256(f"{runtime}:{version}".encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def interpreter_versions(paths: Iterable[str]) -> dict[str, str]:
    """Each interpreter's `sys.version` (blocking: starts them all at once, ~20 ms)."""
    code = "import sys; sys.stdout.write(sys.version)"
    started = {}
    for path in set(paths):
        try:
            started[path] = subprocess.Popen(
                [path, "-S", "-E", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
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
        if process.returncode == 0:
            found[path] = out.decode(errors="replace")
    return found


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

    def __init__(
        self,
        interpreters: Mapping[str, str],
        sdk_dir: Path | None = None,
        nodes: Mapping[str, str] | None = None,  # major version ("20") -> node binary
        jdks: Mapping[str, str] | None = None,  # major version ("17") -> its `java`
    ) -> None:
        self._interpreters = dict(interpreters)
        self._nodes = dict(nodes or {})
        self._jdks = dict(jdks or {})
        # Ember's Java runtime (a jar `make` compiles where a JDK is present).
        self.java_built = bool(self._jdks) and jvm.runtime_built(jvm.DEFAULT_JAVA_DIR)
        # The shared boto3/botocore folder, when `make` installed it.
        self.sdk_dir = sdk_dir if sdk_dir is not None and sdk_installed(sdk_dir) else None
        self.sdk_wanted = sdk_dir  # where it was looked for (for the start-up line)
        self._versions: dict[str, str] = {}  # interpreter path -> sys.version
        own = f"{sys.version_info.major}.{sys.version_info.minor}"
        # `python3` inside environments (and so under `provided` runtimes) is the
        # interpreter the server itself runs on, so packages vendored with the same
        # pip build for it.
        self.default_python = self._interpreters.get(own) or os.path.realpath(sys.executable)
        self._specs: dict[str, RuntimeSpec] = {}
        sdk_from = sdk_minimum(self.sdk_dir) if self.sdk_dir is not None else 0
        for name in PYTHON_RUNTIMES:
            version = name.removeprefix("python")
            path = self._interpreters.get(version)
            if path:
                sdk = None
                if self.sdk_dir is not None and int(version.split(".")[1]) >= sdk_from:
                    sdk = str(self.sdk_dir)
                self._specs[name] = RuntimeSpec(name, path, sdk)
        for name in node.NODE_RUNTIMES:
            binary = self._nodes.get(node.major(name))
            if binary:
                self._specs[name] = RuntimeSpec(name, binary)
        for name in jvm.JAVA_RUNTIMES:
            java = self._jdks.get(jvm.major(name))
            if java and self.java_built:
                self._specs[name] = RuntimeSpec(name, java)
        for name in PROVIDED_RUNTIMES:
            self._specs[name] = RuntimeSpec(name, self.default_python)

    @classmethod
    def discover(
        cls,
        extra: Iterable[tuple[str, str]] = (),
        sdk_dir: Path | None = DEFAULT_SDK_DIR,
        nodes: Iterable[tuple[str, str]] = (),
        jdks: Iterable[tuple[str, str]] = (),
    ) -> RuntimeCatalog:
        return cls(
            discover_interpreters(extra),
            sdk_dir,
            node.discover_nodes(nodes),
            jdks=jvm.discover_jdks(jdks),
        )

    def get(self, runtime: str) -> RuntimeSpec | None:
        return self._specs.get(runtime)

    def names(self) -> list[str]:
        """The runtimes, in version order (python3.8 before python3.10)."""
        return sorted(
            self._specs, key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", n)]
        )

    def interpreters(self) -> dict[str, str]:
        return dict(self._interpreters)

    def nodes(self) -> dict[str, str]:
        """Major version ("20") -> the node binary that runs nodejs<major>.x."""
        return dict(self._nodes)

    def jdks(self) -> dict[str, str]:
        """Major version ("17") -> the `java` that runs java<major>."""
        return dict(self._jdks)

    def java_unavailable(self, runtime: str) -> str:
        """Why the java runtime `runtime` cannot run here (CreateFunction's error)."""
        return jvm.unavailable(runtime, self._jdks, jvm.DEFAULT_JAVA_DIR)

    def java_summary(self) -> str:
        """One line on Java: the runtimes Ember's Java runtime serves, or why none."""
        if not self._jdks:
            return "java runtimes: no JDK found (install one to run java11-java25)"
        if not self.java_built:
            return (
                f"java runtimes: Ember's Java runtime is not built (expected in "
                f"{jvm.DEFAULT_JAVA_DIR}; `make install` builds it with javac)"
            )
        served = [s for s in self._specs.values() if s.is_java]
        archived = [
            s.name for s in served if jvm.shared_archive(jvm.DEFAULT_JAVA_DIR, s.interpreter)
        ]
        names = ", ".join(s.name for s in served) or "none (no JDK of a supported version)"
        return f"java runtimes: {names} (class data archive for {', '.join(archived) or 'none'})"

    def sdk_summary(self) -> str:
        """One line on boto3/botocore for functions: which versions, or how to install."""
        if self.sdk_dir is None:
            return (
                f"boto3 for functions: not installed (expected in {self.sdk_wanted}; `make "
                "install` puts it there) - functions must vendor boto3/botocore"
            )
        versions = sdk_versions(self.sdk_dir)
        listed = ", ".join(f"{n} {v}" for n, v in versions.items()) or "boto3, botocore"
        served = [s.name for s in self._specs.values() if s.sdk_dir is not None]
        return f"boto3 for functions: {listed} for {', '.join(served) or 'no runtime'}"

    def read_versions(self) -> None:
        """Learn every interpreter's version (blocking; once, at start-up)."""
        specs = self._specs.values()
        missing = {s.interpreter for s in specs if s.interpreter not in self._versions}
        nodes = {s.interpreter for s in specs if s.is_node} & missing
        javas = {s.interpreter for s in specs if s.is_java} & missing
        self._versions.update(interpreter_versions(missing - nodes - javas))
        self._versions.update(node.node_versions(nodes))
        self._versions.update(jvm.java_versions(javas))

    def version_arn(self, runtime: str, region: str) -> str:
        """The runtime version ARN of what runs `runtime` here (see runtime_version_arn);
        for a runtime this host cannot run, one derived from its name alone."""
        spec = self._specs.get(runtime)
        if spec is None:
            return runtime_version_arn(region, runtime, "")
        if spec.interpreter not in self._versions:
            versions = node.node_versions if spec.is_node else interpreter_versions
            if spec.is_java:
                versions = jvm.java_versions
            self._versions.update(versions([spec.interpreter]))
        return runtime_version_arn(region, runtime, self._versions.get(spec.interpreter, ""))

    def precompile(self) -> None:
        """Write the runtime's and the SDK's bytecode for every interpreter and learn their
        versions (blocking, once at start-up): inside a sandbox both folders are read-only,
        and cached modules start faster (~5 ms for the runtime, ~1 s for boto3)."""
        self.read_versions()
        for spec in self._specs.values():
            if not spec.is_python:
                continue
            interpreter = spec.interpreter
            tag = f"cpython-{spec.name.removeprefix('python').replace('.', '')}"
            if spec.sdk_dir is not None:
                self._compile_sdk(interpreter, tag)
            cache = RUNTIME_DIR / "__pycache__"
            if all(_is_fresh(m, cache / f"{m.stem}.{tag}.pyc") for m in RUNTIME_DIR.glob("*.py")):
                continue
            subprocess.run(
                [interpreter, "-m", "compileall", "-q", str(RUNTIME_DIR)],
                capture_output=True,
                check=False,
                timeout=60,
            )

    def _compile_sdk(self, interpreter: str, tag: str) -> None:
        """The SDK's bytecode for one interpreter, once (its marker: botocore's own .pyc)."""
        if self.sdk_dir is None:
            return
        marker = self.sdk_dir / "botocore" / "__pycache__" / f"__init__.{tag}.pyc"
        if marker.exists() or not os.access(self.sdk_dir, os.W_OK):
            return
        subprocess.run(
            [interpreter, "-m", "compileall", "-q", "-j", "0", str(self.sdk_dir)],
            capture_output=True,
            check=False,
            timeout=600,
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
