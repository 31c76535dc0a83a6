"""What an HTTP API route adds to a request: warm p50 through `GET /bench` of an HTTP API
(payload format 2.0, a Lambda integration, the function's resource policy checked) beside
the Invoke API of the same function, alternating rounds on one keep-alive connection in one
`ember serve`; and the route's throughput with concurrent keep-alive clients.

Runs its own server. `python -m bench.apis` prints the rows alone.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from bench.routed import HANDLER, invoke_request, p50s, throughput
from bench.server import BenchServer, deploy, serve
from ember.gateway import payload

Row = tuple[str, str, str]
CLIENTS = 8
SECONDS = 3.0


def _api(server: BenchServer) -> str:
    """An API whose $default stage routes GET /bench to the function; its id."""
    lam = server.client()
    deploy(lam, "api-bench", HANDLER)
    gw = server.client("apigatewayv2")
    arn = lam.get_function(FunctionName="api-bench")["Configuration"]["FunctionArn"]
    api_id: str = gw.create_api(
        Name="bench", ProtocolType="HTTP", Target=arn, RouteKey="GET /bench"
    )["ApiId"]
    lam.add_permission(
        FunctionName="api-bench", StatementId="bench", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{arn.split(':')[4]}:{api_id}/*",
    )  # fmt: skip
    return api_id


def _event(api_id: str, host: str) -> bytes:
    """The payload 2.0 event the route hands the function, to invoke it with directly."""
    request = payload.HttpRequest(
        "GET", "/bench", "", (("host", host), ("accept-encoding", "identity")), "127.0.0.1",
        "HTTP/1.1", b"",
    )  # fmt: skip
    doc = payload.event(
        request, request_id=str(uuid.uuid4()), time_ms=int(time.time() * 1000),
        account_id="000000000000", api_id=api_id, domain_name=host.split(":")[0],
        domain_prefix=api_id, route_key="GET /bench",
        extra_headers=(("x-amzn-trace-id", "Root=1-00000000-000000000000000000000000"),
                       ("x-forwarded-for", "127.0.0.1"), ("x-forwarded-port", "9001"),
                       ("x-forwarded-proto", "http")),
    )  # fmt: skip
    return payload.encode(doc)


def apis_rows() -> list[Row]:
    with (
        tempfile.TemporaryDirectory() as scratch,
        serve(Path(scratch) / "data", "--idle-timeout", "600") as server,
    ):
        api_id = _api(server)
        host = f"{api_id}.execute-api.localhost:{server.port}"
        p50 = p50s(server.port, {
            "invoke": invoke_request("api-bench"),
            "invoke_event": invoke_request("api-bench", _event(api_id, host)),
            "api": ("GET", "/bench", {"Host": host}, None),
        })  # fmt: skip
        rate = throughput(server.port, host, "/bench", CLIENTS, SECONDS)
    delta = p50["api"] - p50["invoke"]
    door = p50["api"] - p50["invoke_event"]
    return [
        ("HTTP API route (payload 2.0), warm p50", f"{p50['api']:.0f} µs",
         f"≤ Invoke API p50 + 100 µs: Δ {delta:+.0f} µs (Invoke API {p50['invoke']:.0f} µs; "
         f"with the route's {len(_event('x' * 10, host)):,}-byte event "
         f"{p50['invoke_event']:.0f} µs, so the door adds {door:+.0f} µs)"),
        (f"HTTP API route, throughput ({CLIENTS} keep-alive clients)", f"{rate:,.0f} req/s",
         "beside the Invoke API's rows"),
    ]  # fmt: skip


if __name__ == "__main__":
    for name, figure, target in apis_rows():
        print(f"{name:<60} {figure:>12}  {target}")
