"""What an authorizer adds to an HTTP API request: a route behind a JWT authorizer (the
issuer's keys cached) and one behind a Lambda authorizer answering from its cache, beside
the same route unprotected and the Invoke API, in one `ember serve`; and the decision alone,
in-process (JWT signature check on first sight of a token, then remembered).

Runs its own server and a local OpenID issuer on loopback. `python -m bench.authorizers`
prints the rows alone.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from bench.routed import HANDLER, invoke_request, p50s
from bench.server import BenchServer, deploy, serve
from ember.clock import SystemClock
from ember.gateway.authorizers import AuthorizerEngine, AuthRequest

Row = tuple[str, str, str]
AUDIENCE = "bench-client"
AUTHORIZER = "def handler(event, context):\n    return {'isAuthorized': True}\n"


@contextmanager
def _issuer(key: RSAKey) -> Iterator[str]:
    """An OpenID issuer on loopback serving the discovery document and the key set."""
    public = {"keys": [key.as_dict(private=False)]}
    where: list[str] = []  # the issuer's URL, once the socket is bound

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = where[0]
            body: Any = {"issuer": url, "jwks_uri": f"{url}/jwks.json"}
            if self.path == "/jwks.json":
                body = public
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    where.append(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield where[0]
    finally:
        server.shutdown()
        server.server_close()


def _token(key: RSAKey, issuer: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": AUDIENCE, "sub": "bench", "iat": now, "exp": now + 3600}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _api(server: BenchServer, issuer: str) -> str:
    """An API with GET /open (no authorizer), /jwt and /lambda; its id."""
    lam = server.client()
    deploy(lam, "route", HANDLER)
    deploy(lam, "authorizer", AUTHORIZER)
    gw = server.client("apigatewayv2")
    arn = lam.get_function(FunctionName="route")["Configuration"]["FunctionArn"]
    auth_arn = lam.get_function(FunctionName="authorizer")["Configuration"]["FunctionArn"]
    api_id: str = gw.create_api(Name="bench", ProtocolType="HTTP")["ApiId"]
    target = "integrations/" + gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]  # fmt: skip
    jwt_id = gw.create_authorizer(
        ApiId=api_id, Name="jwt", AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": [AUDIENCE]},
    )["AuthorizerId"]  # fmt: skip
    lambda_id = gw.create_authorizer(
        ApiId=api_id, Name="lambda", AuthorizerType="REQUEST",
        AuthorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{auth_arn}/invocations",
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=3600, IdentitySource=["$request.header.Authorization"],
    )["AuthorizerId"]  # fmt: skip
    gw.create_route(ApiId=api_id, RouteKey="GET /open", Target=target)
    gw.create_route(
        ApiId=api_id, RouteKey="GET /jwt", Target=target, AuthorizationType="JWT",
        AuthorizerId=jwt_id,
    )  # fmt: skip
    gw.create_route(
        ApiId=api_id, RouteKey="GET /lambda", Target=target, AuthorizationType="CUSTOM",
        AuthorizerId=lambda_id,
    )  # fmt: skip
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    account = arn.split(":")[4]
    for name, source in (("route", "*"), ("authorizer", f"authorizers/{lambda_id}")):
        lam.add_permission(
            FunctionName=name, StatementId="bench", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api_id}/{source}",
        )  # fmt: skip
    return api_id


def _served(server: BenchServer, api_id: str, token: str) -> dict[str, float]:
    """p50 µs of each kind of request, alternating rounds (the warm-up also fetches the
    issuer's keys and fills the Lambda authorizer's cache)."""
    host = f"{api_id}.execute-api.localhost:{server.port}"
    return p50s(server.port, {
        "invoke": invoke_request("route"),
        "open": ("GET", "/open", {"Host": host}, None),
        "jwt": ("GET", "/jwt", {"Host": host, "Authorization": f"Bearer {token}"}, None),
        "lambda": ("GET", "/lambda", {"Host": host, "Authorization": "bench-key"}, None),
    })  # fmt: skip


def _in_process(key: RSAKey, issuer: str) -> tuple[float, float]:
    """µs of CPU per JWT decision: a token seen for the first time (signature checked),
    and one the engine has already verified."""

    async def main() -> tuple[float, float]:
        public = key.as_dict(private=False)

        async def fetch(url: str) -> Any:
            return {"jwks_uri": "mem:jwks"} if url.endswith("configuration") else {"keys": [public]}

        engine = AuthorizerEngine(
            _NoInvoker(), SystemClock(), region="us-east-1", account="000000000000",
            fetch=fetch,
        )  # fmt: skip
        authorizer = {
            "AuthorizerId": "a", "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": issuer, "Audience": [AUDIENCE]},
        }  # fmt: skip
        fresh = [
            jwt.encode(
                {"alg": "RS256", "kid": key.kid},
                {"iss": issuer, "aud": AUDIENCE, "sub": f"u{i}", "exp": time.time() + 600},
                key,
            )
            for i in range(300)
        ]
        requests = [AuthRequest("GET", "/jwt", "", {"authorization": f"Bearer {t}"}) for t in fresh]
        await engine.decide(authorizer, [], requests[0])  # keys fetched
        start = time.process_time()
        for request in requests[1:]:
            assert (await engine.decide(authorizer, [], request)).allowed
        first = (time.process_time() - start) / (len(requests) - 1) * 1e6
        again = AuthRequest("GET", "/jwt", "", {"authorization": f"Bearer {_token(key, issuer)}"})
        await engine.decide(authorizer, [], again)
        start = time.process_time()
        for _ in range(5000):
            await engine.decide(authorizer, [], again)
        remembered = (time.process_time() - start) / 5000 * 1e6
        return first, remembered

    return asyncio.run(main())


class _NoInvoker:
    async def invoke(self, name: str, qualifier: str | None, payload: bytes) -> Any:
        raise AssertionError("JWT authorizers invoke nothing")


def authorizers_rows() -> list[Row]:
    key = RSAKey.generate_key(2048, parameters={"kid": "bench"})
    with tempfile.TemporaryDirectory() as scratch, _issuer(key) as issuer:
        with serve(Path(scratch) / "data", "--idle-timeout", "600") as server:
            api_id = _api(server, issuer)
            p50 = _served(server, api_id, _token(key, issuer))
        first, remembered = _in_process(key, issuer)
    jwt_delta = p50["jwt"] - p50["open"]
    lambda_delta = p50["lambda"] - p50["open"]
    base = f"unprotected route {p50['open']:.0f} µs, Invoke API {p50['invoke']:.0f} µs"
    return [
        ("HTTP API route behind a JWT authorizer, p50", f"{p50['jwt']:.0f} µs",
         f"≤ unprotected + 150 µs: Δ {jwt_delta:+.0f} µs ({base}); JWKS cached"),
        ("HTTP API route behind a Lambda authorizer, cache hit, p50",
         f"{p50['lambda']:.0f} µs",
         f"≤ unprotected + 50 µs: Δ {lambda_delta:+.0f} µs ({base})"),
        ("JWT authorizer decision, CPU in-process", f"{remembered:.1f} µs",
         f"a token already verified; first sight (RS256 signature check): {first:.0f} µs"),
    ]  # fmt: skip


if __name__ == "__main__":
    for name, figure, target in authorizers_rows():
        print(f"{name:<60} {figure:>12}  {target}")
