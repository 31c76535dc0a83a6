"""Java functions: cold start and warm invoke p50 of a trivial java function on Ember's Java
runtime, beside the floor `java -version` (starting the same JVM with Lambda's flags, bare)
measured in the same run.

Cold start is a synchronous invoke after a configuration change (a new environment: the
sandbox, the JVM, Ember's runtime, the handler's class); warm is an invoke on one keep-alive
connection to an idle environment. The function has 1769 MB, one vCPU as Lambda sizes CPU
from memory.

    .venv/bin/python -m bench.java       # on its own server, prints its rows
"""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.measure import paced_invokes
from bench.server import ROLE, BenchServer, cold_starts, serve
from ember.runtimes import jvm

Row = tuple[str, str, str]
NAME = "bench-java"
ONE_VCPU_MB = 1769
HANDLER = """
package bench;
import java.util.Map;
public class Trivial {
    public Map<String, Object> handle(Map<String, Object> event) { return Map.of("ok", true); }
}
"""


def _package(javac: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "bench", "Trivial.java")
        source.parent.mkdir()
        source.write_text(HANDLER)
        classes = Path(tmp, "classes")
        subprocess.run(
            [javac, "--release", "11", "-d", str(classes), str(source)], check=True, timeout=300
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in classes.rglob("*.class"):
                archive.write(path, str(path.relative_to(classes)))
        return buffer.getvalue()


def _deploy(lam: Any, name: str, runtime: str, code: bytes, memory: int) -> None:
    lam.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="bench.Trivial::handle",
        Code={"ZipFile": code}, MemorySize=memory,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )


def java_floor(java: str, runtime_major: str, rounds: int) -> list[float]:
    """ms to start and end `java <Lambda's flags> -version`, each of `rounds` times."""
    command = [java, *jvm.jvm_options(runtime_major, ONE_VCPU_MB), "-version"]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def java_rows(server: BenchServer, rounds: int = 10) -> list[Row]:
    jdks = jvm.discover_jdks()
    runtime = next((f"java{v}" for v in ("17", "21", "25", "11") if v in jdks), None)
    javac = shutil.which("javac")
    if runtime is None or javac is None or not jvm.runtime_built(jvm.DEFAULT_JAVA_DIR):
        return [("java cold start", "skipped", "no JDK, or Ember's Java runtime is not built")]
    major = jvm.major(runtime)
    _deploy(server.client(), NAME, runtime, _package(javac), ONE_VCPU_MB)
    floor = statistics.median(java_floor(jdks[major], major, rounds))
    cold = statistics.median(cold_starts(server, NAME, rounds))
    warm = statistics.median(paced_invokes(server.port, NAME, rounds * 5, 0.0)) / 1000
    return [
        (f"{runtime} cold start p50 (trivial handler, sync invoke)", f"{cold:.1f} ms",
         f"floor `java -version` {floor:.1f} ms ({jdks[major]}, Lambda's flags); "
         f"{ONE_VCPU_MB} MB; median of {rounds}"),
        (f"{runtime} warm invoke p50 (keep-alive, back to back)", f"{warm:.2f} ms",
         f"{ONE_VCPU_MB} MB (1 vCPU); median of {rounds * 5}"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        for name, figure, floor in java_rows(server):
            print(f"{name}: {figure}  ({floor})")


if __name__ == "__main__":
    main()
