"""Container image functions: cold start and warm invoke of a trivial image function (this
machine's Python and awslambdaric in an OCI image, built by tests/e2e/oci_images.py), beside
the floor measured in the same run: the image's own entrypoint (`python3 -m awslambdaric
app.handler`) started directly in the unpacked root by bubblewrap, outside Ember, against a
minimal Runtime API that hands it one event (spawn to the event's response).

    .venv/bin/python -m bench.images       # on its own server, prints its rows
"""

from __future__ import annotations

import http.server
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.measure import invoke_once, paced_invokes, spread
from bench.server import ROLE, BenchServer, new_revision, serve
from ember.control import images
from tests.e2e.oci_images import ENTRYPOINT, python_image

Row = tuple[str, str, str]
NAME = "bench-image"
ROUNDS = 7
WARM = 30


class _OneEvent(http.server.BaseHTTPRequestHandler):
    """A Runtime API that hands out one event and notes when its response arrives."""

    done: threading.Event
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open

    def do_GET(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:::function:x")
        # awslambdaric's C client reads these unchecked: without them it crashes.
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.done.set()

    def log_message(self, *_args: Any) -> None:
        pass


def _floor_once(root: Path, bwrap: str) -> float:
    """ms from spawning the image's entrypoint (in its root, by bwrap) to its response."""
    done = threading.Event()
    handler = type("Handler", (_OneEvent,), {"done": done})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    argv = [
        bwrap, "--ro-bind", str(root), "/", "--proc", "/proc", "--dev", "/dev",
        "--tmpfs", "/tmp", "--chdir", "/var/task", "--clearenv",
        "--setenv", "PATH", "/var/lang/bin:/usr/bin:/bin",
        "--setenv", "LD_LIBRARY_PATH", "/var/lang/lib",
        "--setenv", "PYTHONPATH", "/var/task", "--setenv", "LAMBDA_TASK_ROOT", "/var/task",
        "--setenv", "AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{httpd.server_address[1]}",
        *ENTRYPOINT, "app.handler",
    ]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not done.wait(60):
            raise RuntimeError("the image's entrypoint gave no response")
        return (time.perf_counter() - start) * 1000
    finally:
        process.kill()
        process.wait()
        httpd.shutdown()
        httpd.server_close()


def images_rows(server: BenchServer) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "layout"
        digest = python_image(layout)
        lam = server.client()
        lam.create_function(
            FunctionName=NAME, Role=ROLE, PackageType="Image", Code={"ImageUri": str(layout)}
        )
        lam.get_waiter("function_active_v2").wait(
            FunctionName=NAME, WaiterConfig={"Delay": 0.05, "MaxAttempts": 1200}
        )
        cold = []
        for i in range(ROUNDS):
            new_revision(lam, NAME, i)
            cold.append(invoke_once(server.endpoint, NAME))
        warm = [us / 1000 for us in paced_invokes(server.port, NAME, WARM, 0.01)]
        floor: list[float] = []
        bwrap = shutil.which("bwrap")
        if bwrap is not None:
            root = Path(tmp) / "root"
            images.unpack(layout, digest, root)
            floor = [_floor_once(root, bwrap) for _ in range(ROUNDS)]
        lam.delete_function(FunctionName=NAME)
    floor_text = spread(floor, "ms", 1) if floor else "n/a (no bubblewrap)"
    return [
        ("image function cold start (python3 -m awslambdaric)", spread(cold, "ms", 1),
         f"floor: the entrypoint started directly in the image's root, to its first response: "
         f"{floor_text}; median [p25..p75] of {ROUNDS}"),
        ("image function warm invoke p50", f"{statistics.median(warm):.2f} ms",
         f"{WARM} invokes on one connection, 10 ms apart"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        for name, figure, floor in images_rows(server):
            print(f"{name}: {figure}  ({floor})")


if __name__ == "__main__":
    main()
