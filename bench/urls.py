"""What a function URL adds to a request: warm p50 of `GET /` through a NONE function URL
(Host routing, the resource-policy check, the payload 2.0 event and the answer read back)
beside the Invoke API of the same function, alternating rounds on one keep-alive connection
to one `ember serve`; and the URL's throughput with concurrent keep-alive clients (measured
in another process, so its CPU is not the server's).

    .venv/bin/python -m bench.urls       # on its own server, prints its rows
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench.routed import HANDLER, invoke_request, p50s, throughput
from bench.server import BenchServer, deploy, serve

Row = tuple[str, str, str]
NAME = "url-bench"
CLIENTS = 8
SECONDS = 3.0


def _url(server: BenchServer) -> str:
    """The function's public URL's Host (url-id.lambda-url.region.localhost:port)."""
    lam = server.client()
    deploy(lam, NAME, HANDLER)
    url: str = lam.create_function_url_config(FunctionName=NAME, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(
        FunctionName=NAME, StatementId="public", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    return urlsplit(url).netloc


def urls_rows() -> list[Row]:
    with (
        tempfile.TemporaryDirectory() as scratch,
        serve(Path(scratch) / "data", "--idle-timeout", "600") as server,
    ):
        host = _url(server)
        p50 = p50s(
            server.port, {"invoke": invoke_request(NAME), "url": ("GET", "/", {"Host": host}, None)}
        )
        rate = throughput(server.port, host, "/", CLIENTS, SECONDS)
    delta = p50["url"] - p50["invoke"]
    return [
        ("function URL (NONE, payload 2.0), warm p50", f"{p50['url']:.0f} µs",
         f"≤ Invoke API p50 + 100 µs: Δ {delta:+.0f} µs (Invoke API {p50['invoke']:.0f} µs)"),
        (f"function URL, throughput ({CLIENTS} keep-alive clients)", f"{rate:,.0f} req/s",
         "beside the Invoke API's rows"),
    ]  # fmt: skip


if __name__ == "__main__":
    for name, figure, target in urls_rows():
        print(f"{name:<60} {figure:>12}  {target}")
