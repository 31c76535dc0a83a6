"""HTTP API routes behind a JWT authorizer (an OpenID issuer served on loopback by this test,
its key pair generated per run) and behind a Lambda authorizer, through a real `ember serve`
driven by boto3 (`lambda`, `apigatewayv2`), curl with the ApiEndpoint as returned, and an
HTTP client sending the Host header."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.e2e.harness import (
    REPO,
    Server,
    create_function,
    free_port,
    raw_request,
    run_server,
)

pytestmark = pytest.mark.e2e

AUDIENCE = "ember-example-client"

ECHO = """
import json
def handler(event, context):
    body = {"authorizer": event["requestContext"].get("authorizer"), "route": event["routeKey"]}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}
"""

AUTHORIZER = """
import uuid
def handler(event, context):
    token = event["headers"].get("authorization", "")
    if token == "boom":
        raise RuntimeError("the authorizer failed")
    return {"isAuthorized": token == "let-me-in",
            "context": {"user": "alice", "nonce": str(uuid.uuid4()),
                        "source": event["identitySource"]}}
"""


class Issuer:
    """An OpenID issuer on loopback: discovery document and JWKS; mints tokens."""

    def __init__(self) -> None:
        self.rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
        self.ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
        self.requests = 0
        keys = {"keys": [k.as_dict(private=False) for k in (self.rsa, self.ec)]}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                body: Any
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"}
                elif self.path == "/jwks.json":
                    body = keys
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def token(self, key: Any = None, alg: str = "RS256", **claims: Any) -> str:
        key = key or self.rsa
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 600}
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode({"alg": alg, "kid": key.kid}, body, key)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # examples/ deployed as `make run` does, for the OAuth example's test.
    examples = str(REPO / "examples")
    with run_server(tmp_path_factory.mktemp("authorizers") / "data", "--deploy", examples) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: Server, issuer: Issuer) -> dict[str, Any]:
    """One API: GET /jwt and GET /scoped behind the JWT authorizer, GET /lambda behind the
    Lambda authorizer, GET /down behind a JWT authorizer whose issuer is unreachable."""
    lam = server.client("lambda")
    gw = server.client("apigatewayv2")
    echo = create_function(lam, "auth-echo", ECHO)
    authorizer_fn = create_function(lam, "auth-fn", AUTHORIZER)
    created = gw.create_api(Name="protected", ProtocolType="HTTP")
    api_id = created["ApiId"]
    integration = gw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=echo["FunctionArn"],
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    jwt_id = gw.create_authorizer(
        ApiId=api_id,
        Name="oidc",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer.url, "Audience": [AUDIENCE]},
    )["AuthorizerId"]
    down_id = gw.create_authorizer(
        ApiId=api_id,
        Name="down",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": f"http://127.0.0.1:{free_port()}", "Audience": [AUDIENCE]},
    )["AuthorizerId"]
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{authorizer_fn['FunctionArn']}/invocations"
    )
    lambda_id = gw.create_authorizer(
        ApiId=api_id,
        Name="lambda",
        AuthorizerType="REQUEST",
        AuthorizerUri=uri,
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=300,
        IdentitySource=["$request.header.Authorization"],
    )["AuthorizerId"]
    target = f"integrations/{integration}"
    routes = [
        ("GET /jwt", {"AuthorizationType": "JWT", "AuthorizerId": jwt_id}),
        (
            "GET /scoped",
            {
                "AuthorizationType": "JWT",
                "AuthorizerId": jwt_id,
                "AuthorizationScopes": ["items/read"],
            },
        ),
        ("GET /down", {"AuthorizationType": "JWT", "AuthorizerId": down_id}),
        ("GET /lambda", {"AuthorizationType": "CUSTOM", "AuthorizerId": lambda_id}),
    ]
    for key, auth in routes:
        gw.create_route(ApiId=api_id, RouteKey=key, Target=target, **auth)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    source = f"arn:aws:execute-api:us-east-1:{echo['FunctionArn'].split(':')[4]}:{api_id}"
    lam.add_permission(
        FunctionName="auth-echo",
        StatementId="api",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"{source}/*",
    )
    lam.add_permission(
        FunctionName="auth-fn",
        StatementId="authorizer",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"{source}/authorizers/{lambda_id}",
    )
    return {"id": api_id, "endpoint": created["ApiEndpoint"]}


def _get(
    server: Server, api: dict[str, Any], path: str, token: str | None = None
) -> tuple[int, dict[str, str], Any]:
    headers = {"Host": f"{api['id']}.execute-api.localhost:{server.port}"}
    if token is not None:
        headers["Authorization"] = token
    status, answer_headers, body = raw_request(server.endpoint, "GET", path, headers=headers)
    return status, answer_headers, json.loads(body) if body else None


UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}


def test_curl_with_the_api_endpoint_and_a_valid_token(
    server: Server, api: dict[str, Any], issuer: Issuer
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    token = issuer.token(email="alice@example.com")
    out = subprocess.run(
        ["curl", "-sS", "-H", f"Authorization: Bearer {token}", f"{api['endpoint']}/jwt"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(out.stdout)
    claims = answer["authorizer"]["jwt"]["claims"]
    assert (claims["sub"], claims["email"], claims["iss"]) == (
        "user-1",
        "alice@example.com",
        issuer.url,
    )
    assert isinstance(claims["exp"], str)
    assert answer["authorizer"]["jwt"]["scopes"] is None


def test_valid_tokens_rs256_and_es256(server: Server, api: dict[str, Any], issuer: Issuer) -> None:
    status, _, body = _get(server, api, "/jwt", f"Bearer {issuer.token()}")
    assert status == 200, body
    status, _, body = _get(server, api, "/jwt", issuer.token(issuer.ec, "ES256"))
    assert status == 200, body  # without "Bearer " too


def test_every_bad_token_is_unauthorized(
    server: Server, api: dict[str, Any], issuer: Issuer
) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    stranger = RSAKey.generate_key(2048, parameters={"kid": "unknown"})
    now = int(time.time())

    def b64(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "exp": now + 600}
    bad = {
        "missing": None,
        "bad signature": issuer.token(other),
        "alg none": f"{b64({'alg': 'none', 'kid': 'rsa-1'})}.{b64(claims)}.",
        "wrong issuer": issuer.token(iss="https://elsewhere.example"),
        "wrong audience": issuer.token(aud="someone-else"),
        "expired": issuer.token(exp=now - 60),
        "not yet valid": issuer.token(nbf=now + 600),
        "unknown kid": issuer.token(stranger),
        "garbage": "Bearer not.a.token",
    }
    for name, token in bad.items():
        status, headers, body = _get(server, api, "/jwt", token)
        assert (status, body) == (401, UNAUTHORIZED), name
        if token is not None:
            assert headers["www-authenticate"].startswith("Bearer "), name


def test_route_scopes(server: Server, api: dict[str, Any], issuer: Issuer) -> None:
    status, _, body = _get(server, api, "/scoped", issuer.token(scope="items/write"))
    assert (status, body) == (403, FORBIDDEN)
    status, _, body = _get(server, api, "/scoped", issuer.token(scope="items/read items/write"))
    assert status == 200, body
    assert body["authorizer"]["jwt"]["scopes"] == ["items/read", "items/write"]


def test_jwks_unreachable_is_unauthorized_and_logged(
    server: Server, api: dict[str, Any], issuer: Issuer
) -> None:
    status, _, body = _get(server, api, "/down", issuer.token())
    assert (status, body) == (401, UNAUTHORIZED)
    assert "JWKS of issuer http://127.0.0.1:" in server.output()


def test_lambda_authorizer_allows_denies_and_caches(server: Server, api: dict[str, Any]) -> None:
    status, _, body = _get(server, api, "/lambda")
    assert (status, body) == (401, UNAUTHORIZED)  # no identity source: not invoked
    status, _, body = _get(server, api, "/lambda", "wrong")
    assert (status, body) == (403, FORBIDDEN)
    status, _, first = _get(server, api, "/lambda", "let-me-in")
    assert status == 200, first
    context = first["authorizer"]["lambda"]
    assert (context["user"], context["source"]) == ("alice", ["let-me-in"])
    status, _, second = _get(server, api, "/lambda", "let-me-in")
    assert status == 200
    # Served from the cache (TTL 300 s): the very same answer, nonce included.
    assert second["authorizer"]["lambda"]["nonce"] == context["nonce"]


def test_a_failing_lambda_authorizer_is_a_server_error(server: Server, api: dict[str, Any]) -> None:
    status, _, body = _get(server, api, "/lambda", "boom")
    assert (status, body) == (500, {"message": "Internal Server Error"})


def test_unprotected_paths_do_not_exist(server: Server, api: dict[str, Any]) -> None:
    status, _, body = _get(server, api, "/nothing-here", "let-me-in")
    assert (status, body) == (404, {"message": "Not Found"})


def test_the_oauth_example_walk_through(server: Server, tmp_path: Path) -> None:
    """`examples/oauth_api.py up` as the README runs it: issuer, API, then its requests."""
    issuer_port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "oauth_api.py"), "up",
         "--endpoint", server.endpoint, "--issuer-port", str(issuer_port),
         "--state", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("issuer serving on"):
                break
        output = "".join(lines)
        assert "The OAuth example is up." in output, output
        api_id = output.split("(id ", 1)[1].split(")", 1)[0]
        api = {"id": api_id}
        form = b"grant_type=client_credentials&scope=greetings/read"
        auth = "Basic " + base64.b64encode(b"demo-client:demo-secret").decode()
        status, _, body = raw_request(
            f"http://127.0.0.1:{issuer_port}", "POST", "/token", form,
            {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert status == 200, body
        token = json.loads(body)["access_token"]
        assert _get(server, api, "/hello")[0] == 401
        status, _, answer = _get(server, api, "/hello", f"Bearer {token}")
        assert (status, answer["message"]) == (200, "Hello, demo-client!"), answer
        assert answer["scopes"] == ["greetings/read"]
        headers = {"Host": f"{api_id}.execute-api.localhost:{server.port}", "x-api-key": "demo-key"}
        status, _, body = raw_request(server.endpoint, "GET", "/key/hello", headers=headers)
        assert (status, json.loads(body)["message"]) == (200, "Hello, alice!")
        headers["x-api-key"] = "wrong"
        assert raw_request(server.endpoint, "GET", "/key/hello", headers=headers)[0] == 403
    finally:
        process.terminate()
        process.communicate(timeout=30)  # also closes its stdout
