"""A barrier for invocations: an HTTP endpoint on the host's loopback that answers a GET
only once `parties` of them wait there. Invocations that call it are all running at the
same moment when it answers, whatever the machine's load (no sleeps that merely hope
they overlap). A function reaches it as host.ember.internal (`function_host()`), so the
server must let its port through (`--host-access`; the shared server's is
`host_service_port`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.e2e.harness import function_host

WAIT = 60.0  # seconds a caller waits for the others before the barrier breaks


@contextmanager
def running_barrier(port: int, parties: int) -> Iterator[str]:
    """Yields the URL functions call (GET): 200 `go` once all are there, 500 if they never
    all arrive within WAIT."""
    barrier = threading.Barrier(parties, timeout=WAIT)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                barrier.wait()
                status, body = 200, b"go"
            except threading.BrokenBarrierError:
                status, body = 500, b"not everyone arrived"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", port), Handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="barrier", daemon=True)
        thread.start()
        try:
            yield f"http://{function_host()}:{port}/"
        finally:
            barrier.abort()  # a caller still waiting is answered at once
            server.shutdown()
            thread.join()
