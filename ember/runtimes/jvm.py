"""The Java runtimes: which JDKs this host has, by major version, Ember's Java runtime (a jar
`make` compiles from java/src), and the JVM command line Lambda's java runtimes use."""

from __future__ import annotations

import functools
import glob
import hashlib
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# Every java runtime AWS accepts for new functions (java8.al2 aside: Ember's runtime needs
# Java 11's HTTP client), each runnable where a JDK of its major version is found.
JAVA_RUNTIMES = ("java11", "java17", "java21", "java25")
SOURCES = Path(__file__).parent / "java" / "src"
# Where `make` puts the compiled runtime (bound at /var/runtime inside environments, so
# the jar is /var/runtime/lib/<JAR_NAME> there, where Lambda keeps its own).
DEFAULT_JAVA_DIR = Path(sys.prefix) / "share" / "ember" / "java-runtime"
JAR_NAME = "ember-lambda-runtime.jar"
SANDBOX_DIR = "/var/runtime"  # where sandboxes see DEFAULT_JAVA_DIR
MAIN_CLASS = "ember.lambda.Main"
SOURCE_STAMP = "source.sha256"  # beside the jar: the hash of the sources it was built from
# Ember's runtime is compiled for the oldest runtime it serves; -XDstringConcat=inline:
# StringBuilder, not invokedynamic, for `+` on strings (the indy bootstrap costs ~20 ms).
RELEASE = "11"
JAVAC_FLAGS = ("--release", RELEASE, "-nowarn", "-XDstringConcat=inline", "-encoding", "UTF-8")

# Places JDKs live besides PATH's `java`: distribution packages, SDKMAN!, hand installs.
_SEARCH_GLOBS = (
    "/usr/lib/jvm/*/bin/java",
    "/usr/java/*/bin/java",
    "/usr/local/*/bin/java",
    "/opt/*/bin/java",
    "/opt/java/*/bin/java",
    os.path.expanduser("~/.sdkman/candidates/java/*/bin/java"),
)
_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="(?:1\.)?(\d+)', re.MULTILINE)
# Host folders every sandbox already sees (so links into them need no bind of their own).
_SYSTEM_PREFIXES = (
    "/usr/",
    "/bin/",
    "/sbin/",
    "/lib/",
    "/lib64/",
    "/etc/ssl/",
    "/etc/alternatives/",
)


def major(runtime: str) -> str:
    """The major version a java runtime names: java17 -> 17."""
    return runtime.removeprefix("java")


def jdk_home(java: str) -> str:
    return os.path.dirname(os.path.dirname(os.path.realpath(java)))


def release_version(home: str) -> str:
    """The JDK's full version from its `release` file ("17.0.15"), or ""."""
    try:
        text = Path(home, "release").read_text(errors="replace")
    except OSError:
        return ""
    match = re.search(r'^JAVA_VERSION="([^"]*)"', text, re.MULTILINE)
    return match.group(1) if match else ""


def _major_of(home: str) -> str | None:
    try:
        text = Path(home, "release").read_text(errors="replace")
    except OSError:
        return None
    match = _RELEASE_VERSION.search(text)
    return match.group(1) if match else None


def discover_jdks(extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Map a major version ("17") to a `java` binary of that version: PATH's first, then the
    usual install folders (read from each JDK's `release` file: no JVM started);
    `extra` pairs (major, path) win over discovery."""
    candidates: list[str] = []
    for directory in os.get_exec_path():
        candidates.append(os.path.join(directory, "java"))
    for pattern in _SEARCH_GLOBS:
        candidates.extend(sorted(glob.glob(pattern), reverse=True))
    found: dict[str, str] = {}
    for path in candidates:
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue
        java = os.path.realpath(path)
        version = _major_of(jdk_home(java))
        if version is not None:
            found.setdefault(version, java)
    for version, path in extra:
        found[major(version) if version.startswith("java") else version] = path
    return found


def java_versions(paths: Iterable[str]) -> dict[str, str]:
    """Each `java` binary's JDK version and vendor build, from its `release` file."""
    found = {}
    for path in paths:
        home = jdk_home(path)
        try:
            text = Path(home, "release").read_text(errors="replace")
        except OSError:
            continue
        found[path] = " ".join(sorted(line for line in text.splitlines() if "VERSION" in line))
    return found


@functools.cache
def outside_links(home: str, under: str = "/etc") -> tuple[str, ...]:
    """The folders of `under` (/etc/<name>) the JDK's absolute symlinks point into, which a
    sandbox does not otherwise see: Debian's JDKs keep their configuration in
    /etc/java-<N>-openjdk. Links anywhere else (a home folder) are never bound."""
    folders: set[str] = set()
    depth = len(Path(under).parts) + 1  # /etc/<name>
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                continue
            target = os.path.normpath(os.readlink(path))
            if not target.startswith(under + "/") or target.startswith(_SYSTEM_PREFIXES):
                continue
            folder = os.path.join(*Path(target).parts[:depth])
            if os.path.isdir(folder):
                folders.add(folder)
    return tuple(sorted(folders))


# --- the JVM's command line ------------------------------------------------------------


def heap_kb(memory_mb: int) -> int:
    """Lambda's -XX:MaxHeapSize: 85 % of the function's memory (445645k at 512 MB)."""
    return round(memory_mb * 1024 * 0.85)


def jvm_options(runtime_major: str, memory_mb: int | None) -> list[str]:
    """The flags Lambda's java runtimes start the JVM with (java17's, as AWS prints them):
    the heap from MemorySize, the serial collector, class data sharing, C1 only (java17+)."""
    options = []
    if memory_mb:
        options.append(f"-XX:MaxHeapSize={heap_kb(memory_mb)}k")
    options += ["-XX:+UseSerialGC", "-Xshare:auto"]
    if runtime_major.isdigit() and int(runtime_major) >= 17:
        options += ["-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1"]
    # Not AWS's --add-opens=java.base/java.io=ALL-UNNAMED: Ember's runtime needs no such
    # access, and the flag turns off the JDK's archived module graph (~8 ms a start).
    options.append("-Djava.net.preferIPv4Stack=true")
    # org.crac (SnapStart's hooks) delegates to the runtime's com.amazonaws.services.lambda.crac.
    options.append("-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac")
    return options


def argv(
    java: str, java_dir: str, runtime_major: str, memory_mb: int | None, archive: str | None
) -> list[str]:
    """The runtime's command line: `java`, Lambda's flags, the class data archive recorded
    for this JDK (if any, relative to `java_dir`), Ember's runtime jar and its main class
    (the handler comes from _HANDLER)."""
    options = jvm_options(runtime_major, memory_mb)
    if archive is not None:
        options.append(f"-XX:SharedArchiveFile={java_dir}/{archive}")
    jar = f"{java_dir}/lib/{JAR_NAME}"
    return [java, *options, "-classpath", jar, MAIN_CLASS]


def _flag_key(option: str) -> str | None:
    """Which setting a JVM option sets (so a function's choice replaces Lambda's default)."""
    if option.startswith(("-Xmx", "-XX:MaxHeapSize=", "-XX:MaxRAMPercentage=")):
        return "heap"
    if option.startswith("-Xshare"):
        return "share"
    match = re.fullmatch(r"-XX:[+-]?(Use\w+GC)", option)
    if match:
        return "gc"
    match = re.match(r"-XX:[+-]?(\w+)", option)
    return match.group(1) if match else None


def honour_tool_options(command: list[str], environment: Mapping[str, str]) -> list[str]:
    """Drop the defaults a function's JAVA_TOOL_OPTIONS sets otherwise: the JVM applies
    JAVA_TOOL_OPTIONS before its command line, so a default would win over the function's
    choice (-Xmx, -XX:TieredStopAtLevel=4, another collector, -Xshare:off)."""
    tool = environment.get("JAVA_TOOL_OPTIONS", "")
    if not tool.strip():
        return command
    try:
        words = shlex.split(tool)
    except ValueError:
        words = tool.split()
    chosen = {key for key in map(_flag_key, words) if key is not None}
    if "TieredStopAtLevel" in chosen:
        chosen.add("TieredCompilation")
    return [a for a in command if _flag_key(a) not in chosen]


# --- building the runtime ----------------------------------------------------------------


def source_hash() -> str:
    digest = hashlib.sha256(" ".join(JAVAC_FLAGS).encode())
    for path in sorted(SOURCES.rglob("*.java")):
        digest.update(str(path.relative_to(SOURCES)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def runtime_jar(java_dir: Path) -> Path:
    return java_dir / "lib" / JAR_NAME


def runtime_built(java_dir: Path) -> bool:
    """Is the jar there and built from these sources?"""
    try:
        stamp = (java_dir / SOURCE_STAMP).read_text().strip()
    except OSError:
        return False
    return runtime_jar(java_dir).is_file() and stamp == source_hash()


def find_javac(jdks: Mapping[str, str]) -> str | None:
    """A `javac` able to target Java 11: PATH's, else one beside a discovered `java`."""
    for directory in os.get_exec_path():
        path = os.path.join(directory, "javac")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    for _, java in sorted(jdks.items(), key=lambda kv: -int(kv[0]) if kv[0].isdigit() else 0):
        path = os.path.join(os.path.dirname(java), "javac")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def build_runtime(java_dir: Path, javac: str) -> Path:
    """Compile the runtime's sources and write its jar (blocking, a few seconds)."""
    sources = sorted(str(p) for p in SOURCES.rglob("*.java"))
    java_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=java_dir) as classes:
        subprocess.run(
            [javac, *JAVAC_FLAGS, "-d", classes, *sources],
            check=True,
            timeout=600,
        )
        jar = runtime_jar(java_dir)
        jar.parent.mkdir(parents=True, exist_ok=True)
        tmp = jar.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
            out.writestr(
                "META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nMain-Class: {MAIN_CLASS}\n"
            )
            for path in sorted(Path(classes).rglob("*.class")):
                out.write(path, str(path.relative_to(classes)))
        os.replace(tmp, jar)
    (java_dir / SOURCE_STAMP).write_text(source_hash() + "\n")
    return jar


# --- class data sharing -------------------------------------------------------------------
# A dynamic archive (JDK 13+) of the classes the runtime loads up to its first answer, one per
# JDK build and jar: mapped at start instead of parsing and verifying them (~25 % of a cold
# start). Recorded by `make` in a run against a stand-in Runtime API.


def archive_path(java_dir: Path, java: str) -> Path:
    """Where the archive for `java` and the jar as it is now lives (both name it)."""
    jar = runtime_jar(java_dir).stat()
    home = jdk_home(java)
    ident = f"{os.path.realpath(java)}\0{java_versions([java]).get(java, '')}\0{home}"
    ident += f"\0{jar.st_mtime_ns}\0{jar.st_size}"
    return java_dir / "cds" / f"{hashlib.sha256(ident.encode()).hexdigest()[:16]}.jsa"


@functools.cache
def shared_archive(java_dir: Path, java: str) -> str | None:
    """The archive recorded for `java` if `make` made one, relative to `java_dir`."""
    try:
        path = archive_path(java_dir, java)
    except OSError:
        return None
    return str(path.relative_to(java_dir)) if path.is_file() else None


def record_archive(java_dir: Path, java: str, runtime_major: str) -> Path | None:
    """Run the runtime once as environments run it (its jar at /var/runtime/lib, in a
    bubblewrap mount namespace) on its warm-up handler, one invocation from a stand-in Runtime
    API, with -XX:ArchiveClassesAtExit (blocking, about a second). None: no archive (a JDK
    older than 13, or no bubblewrap: then environments are plain processes, which use none)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None or not runtime_major.isdigit() or int(runtime_major) < 13:
        return None
    target = archive_path(java_dir, java)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as out, _StandIn() as api:
        recorded = Path(out, "archive.jsa")
        command = [
            bwrap, "--ro-bind", "/", "/", "--tmpfs", "/var",
            "--ro-bind", str(java_dir), SANDBOX_DIR, "--tmpfs", "/tmp", "--bind", out, out,
            "--proc", "/proc", "--dev", "/dev",
            "--chdir", "/tmp", "--die-with-parent",
        ]  # fmt: skip
        if os.geteuid() != 0:
            command.append("--unshare-user")
        command += ["--", *argv(java, SANDBOX_DIR, runtime_major, 512, None)]
        command.insert(command.index("--") + 2, f"-XX:ArchiveClassesAtExit={recorded}")
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": "ember.lambda.Warmup::handle",
            "LAMBDA_TASK_ROOT": "/tmp",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        }
        try:
            # It exits by itself once the stand-in refuses a second /next.
            subprocess.run(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120
            )
        except subprocess.TimeoutExpired:
            return None
        if not api.answered.is_set() or not recorded.is_file():
            return None
        os.replace(recorded, target)
    return target


class _StandIn:
    """A Runtime API on loopback that hands out one invocation and takes its answer."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        handler = _stand_in_handler(self.answered)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _stand_in_handler(answered: threading.Event) -> type[http.server.BaseHTTPRequestHandler]:
    event = b'{"name": "warm-up", "values": [1, 2, 3], "other": {"a": [true, null, 1.5]}}'

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if answered.is_set():  # the one invocation was served: the runtime exits on this
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "warm-up")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:::warm-up")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            answered.set()

    return Handler


def unavailable(runtime: str, jdks: Mapping[str, str], java_dir: Path) -> str:
    """Why `runtime` cannot run here, for CreateFunction's error."""
    have = ", ".join(f"Java {v} ({p})" for v, p in sorted(jdks.items())) or "none"
    wanted = major(runtime)
    if not wanted.isdigit():  # java8.al2
        return (
            f"Runtime {runtime} is not available on this Ember server: its Java runtime needs "
            f"Java 11 or newer ({', '.join(JAVA_RUNTIMES)})."
        )
    if wanted in jdks:
        return (
            f"Runtime {runtime} needs Ember's Java runtime, which is not built on this server "
            f"(expected {runtime_jar(java_dir)}): run `make install` on a host with a JDK "
            "(javac) to build it."
        )
    return (
        f"Runtime {runtime} is not available on this Ember server: it needs a Java {wanted} "
        f"JDK. JDKs found: {have}. Install one (or pass `ember serve --java {wanted}=PATH` "
        "to its `java`) to use it."
    )


def main(args: list[str]) -> int:
    """`make java-runtime`: build the runtime jar into DIR (args[0]) if a JDK is present."""
    java_dir = Path(args[0]).resolve() if args else DEFAULT_JAVA_DIR
    jdks = discover_jdks()
    if not runtime_built(java_dir):
        javac = find_javac(jdks)
        if javac is None:
            print("note: no JDK (javac) found, so Ember's Java runtimes are unavailable.")
            print(
                "      Install one: sudo apt-get install openjdk-17-jdk-headless (Debian, Ubuntu)."
            )
            return 0
        print(f"built {build_runtime(java_dir, javac)}")
    wanted = set()
    for version, java in sorted(jdks.items()):
        wanted.add(archive_path(java_dir, java))
        if not archive_path(java_dir, java).is_file():
            recorded = record_archive(java_dir, java, version)
            if recorded is not None:
                print(f"recorded the class data archive for Java {version}: {recorded}")
    for stale in set((java_dir / "cds").glob("*.jsa")) - wanted:
        stale.unlink()  # an older jar's or JDK's
    return 0
