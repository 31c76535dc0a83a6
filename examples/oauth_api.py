"""The OAuth-protected HTTP API example: a tiny OpenID issuer on loopback, and the API
(`oauth-example`) on a running Ember, with one route behind a JWT authorizer and one behind
a Lambda authorizer, both reaching the `oauth-hello` function (examples/oauth-hello; the
Lambda authorizer is examples/oauth-authorizer — `make run` deploys both).

    python examples/oauth_api.py up       # issuer + API, prints the curl walk-through
    python examples/oauth_api.py token    # prints an access token (issuer's key on disk)
    python examples/oauth_api.py issuer   # only the issuer
    python examples/oauth_api.py setup    # only the API (the issuer must be reachable)

The issuer is for the walk-through only: one client (`demo-client` / `demo-secret`), the
OAuth 2.0 client-credentials grant at POST /token, RS256 access tokens valid one hour, its
key pair kept in `.ember/oauth-example/issuer-key.json` so tokens survive a restart.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import RSAKey

API_NAME = "oauth-example"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-secret"
SCOPES = ("greetings/read", "greetings/write")
ROUTE_FUNCTION, AUTHORIZER_FUNCTION = "oauth-hello", "oauth-authorizer"
TOKEN_LIFETIME = 3600


def load_key(state: Path) -> RSAKey:
    """The issuer's signing key: read from `state`, or made and written there once."""
    path = state / "issuer-key.json"
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    key = RSAKey.generate_key(2048, parameters={"kid": f"example-{uuid.uuid4().hex[:8]}"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.as_dict(private=True)))
    path.chmod(0o600)
    return key


def mint(key: RSAKey, issuer: str, scope: str, subject: str = CLIENT_ID) -> str:
    """An access token as an OAuth 2.0 server issues one for the client-credentials grant
    (Cognito's shape: client_id, no aud)."""
    now = int(time.time())
    claims = {
        "iss": issuer, "sub": subject, "client_id": CLIENT_ID, "scope": scope,
        "token_use": "access", "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
        "jti": str(uuid.uuid4()),
    }  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, claims, key)


def serve_issuer(key: RSAKey, host: str, port: int) -> tuple[ThreadingHTTPServer, str]:
    """Discovery document, JWKS and a token endpoint, in a background thread."""
    issuer = f"http://{host}:{port}"
    keys = {"keys": [key.as_dict(private=False) | {"use": "sig", "alg": "RS256"}]}
    discovery = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/token",
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": list(SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._json(200, discovery)
            elif self.path == "/.well-known/jwks.json":
                self._json(200, keys)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if self.path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("content-length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            client = (form.get("client_id"), form.get("client_secret"))
            basic = self.headers.get("authorization", "")
            if basic.lower().startswith("basic "):
                user, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                client = (urllib.parse.unquote(user), urllib.parse.unquote(secret))
            if client != (CLIENT_ID, CLIENT_SECRET):
                self._json(401, {"error": "invalid_client"})
                return
            if form.get("grant_type") != "client_credentials":
                self._json(400, {"error": "unsupported_grant_type"})
                return
            scope = form.get("scope") or " ".join(SCOPES)
            if not set(scope.split()) <= set(SCOPES):
                self._json(400, {"error": "invalid_scope"})
                return
            self._json(200, {
                "access_token": mint(key, issuer, scope), "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME, "scope": scope,
            })  # fmt: skip

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"issuer: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, issuer


def _clients(endpoint: str, region: str) -> tuple[Any, Any]:
    # On loopback Ember takes any access key (see the README); elsewhere use your own.
    config = Config(retries={"total_max_attempts": 2})
    session = boto3.Session(
        aws_access_key_id="example", aws_secret_access_key="example", region_name=region
    )
    return (
        session.client("lambda", endpoint_url=endpoint, config=config),
        session.client("apigatewayv2", endpoint_url=endpoint, config=config),
    )


def setup(endpoint: str, issuer: str, region: str) -> dict[str, Any]:
    """Create the API (or bring an existing one up to date); its description."""
    lam, gw = _clients(endpoint, region)
    arns = {}
    for name in (ROUTE_FUNCTION, AUTHORIZER_FUNCTION):
        try:
            lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except Exception as exc:
            raise SystemExit(
                f"function {name} is not on {endpoint} ({exc}); start Ember with `make run` "
                "(it deploys examples/), then run this again"
            ) from exc
        arns[name] = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    account = arns[ROUTE_FUNCTION].split(":")[4]
    existing = [a for a in gw.get_apis()["Items"] if a["Name"] == API_NAME]
    if existing:
        api: dict[str, Any] = existing[0]
        for authorizer in gw.get_authorizers(ApiId=api["ApiId"])["Items"]:
            if authorizer["AuthorizerType"] == "JWT":  # the issuer may have moved
                gw.update_authorizer(
                    ApiId=api["ApiId"], AuthorizerId=authorizer["AuthorizerId"],
                    JwtConfiguration={"Issuer": issuer, "Audience": [CLIENT_ID]},
                )  # fmt: skip
        return api
    api = dict(gw.create_api(Name=API_NAME, ProtocolType="HTTP"))
    api_id = api["ApiId"]
    target = "integrations/" + gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arns[ROUTE_FUNCTION],
        PayloadFormatVersion="2.0",
    )["IntegrationId"]  # fmt: skip
    # The JWT authorizer: tokens from our issuer, for our client (its client_id claim).
    jwt_id = gw.create_authorizer(
        ApiId=api_id, Name="oauth", AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": [CLIENT_ID]},
    )["AuthorizerId"]  # fmt: skip
    # The Lambda authorizer: simple responses, cached a minute per API key.
    lambda_id = gw.create_authorizer(
        ApiId=api_id, Name="api-keys", AuthorizerType="REQUEST",
        AuthorizerUri=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
        f"{arns[AUTHORIZER_FUNCTION]}/invocations",
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=60, IdentitySource=["$request.header.x-api-key"],
    )["AuthorizerId"]  # fmt: skip
    gw.create_route(
        ApiId=api_id, RouteKey="GET /hello", Target=target, AuthorizationType="JWT",
        AuthorizerId=jwt_id, AuthorizationScopes=["greetings/read"],
    )  # fmt: skip
    gw.create_route(
        ApiId=api_id, RouteKey="GET /key/hello", Target=target, AuthorizationType="CUSTOM",
        AuthorizerId=lambda_id,
    )  # fmt: skip
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    source = f"arn:aws:execute-api:{region}:{account}:{api_id}"
    for name, statement, source_arn in (
        (ROUTE_FUNCTION, "oauth-example-routes", f"{source}/*"),
        (AUTHORIZER_FUNCTION, "oauth-example-authorizer", f"{source}/authorizers/{lambda_id}"),
    ):
        try:
            lam.add_permission(
                FunctionName=name, StatementId=statement, Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com", SourceArn=source_arn,
            )  # fmt: skip
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceConflictException":
                raise
            lam.remove_permission(FunctionName=name, StatementId=statement)
            lam.add_permission(
                FunctionName=name, StatementId=statement, Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com", SourceArn=source_arn,
            )  # fmt: skip
    return api


WALK_THROUGH = """
The OAuth example is up.
  API       {endpoint}   (id {api_id})
  issuer    {issuer}     (client {client_id} / {client_secret})

# 1. No token: 401 {{"message":"Unauthorized"}}
curl -i {endpoint}/hello

# 2. Get an access token (OAuth 2.0 client credentials), then call the JWT route
TOKEN=$(curl -s -u {client_id}:{client_secret} -d grant_type=client_credentials \\
  -d scope=greetings/read {issuer}/token \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -H "Authorization: Bearer $TOKEN" {endpoint}/hello

# 3. A token without the route's scope: 403 {{"message":"Forbidden"}}
TOKEN=$(curl -s -u {client_id}:{client_secret} -d grant_type=client_credentials \\
  -d scope=greetings/write {issuer}/token \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -i -H "Authorization: Bearer $TOKEN" {endpoint}/hello

# 4. The Lambda authorizer's route: 401 without a key, 403 with a wrong one, 200 with demo-key
curl -i {endpoint}/key/hello
curl -i -H "x-api-key: wrong" {endpoint}/key/hello
curl -H "x-api-key: demo-key" {endpoint}/key/hello
"""


def wait_for(endpoint: str, seconds: float) -> None:
    """Until Ember answers at `endpoint` (any HTTP answer will do), or SystemExit."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/2015-03-31/functions", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 403 when --auth sigv4)
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"Ember did not answer at {endpoint} in {seconds:.0f} s") from None
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="up",
                        choices=["up", "issuer", "setup", "token"])  # fmt: skip
    parser.add_argument("--endpoint", default="http://127.0.0.1:9001", help="Ember's URL")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--issuer-host", default="127.0.0.1")
    parser.add_argument("--issuer-port", type=int, default=9002)
    parser.add_argument("--state", type=Path, default=Path(".ember/oauth-example"),
                        help="where the issuer keeps its key pair")  # fmt: skip
    parser.add_argument("--scope", default="greetings/read", help="token: the scopes")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for Ember to answer first (`make run` starts "
                        "this beside the server)")  # fmt: skip
    args = parser.parse_args(argv)
    key = load_key(args.state)
    issuer = f"http://{args.issuer_host}:{args.issuer_port}"
    if args.command == "token":
        print(mint(key, issuer, args.scope))
        return
    if args.wait:
        wait_for(args.endpoint, args.wait)
    if args.command == "setup":
        api = setup(args.endpoint, issuer, args.region)
        print(api["ApiEndpoint"])
        return
    server, issuer = serve_issuer(key, args.issuer_host, args.issuer_port)
    try:
        if args.command == "up":
            api = setup(args.endpoint, issuer, args.region)
            print(WALK_THROUGH.format(
                endpoint=api["ApiEndpoint"], api_id=api["ApiId"], issuer=issuer,
                client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            ))  # fmt: skip
        print(f"issuer serving on {issuer} (Ctrl-C stops it)", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
