"""API Gateway HTTP APIs end to end: apigatewayv2 through boto3 (CRUD, bad input that changes
nothing), requests with curl to the ApiEndpoint exactly as returned (route precedence,
stages and stage variables, payload formats 1.0 and 2.0, timeouts, function errors, missing
permissions), and the APIs surviving a restart."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import Server, create_function, free_port, run_server, wait_until

ACCOUNT = "000000000000"
REGION = "us-east-1"

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json", "x-echo": "1"},
            "body": json.dumps(event)}
"""
PLAIN = """
def handler(event, context):
    return {"hello": event["rawPath"]}
"""
SLOW = """
import time

def handler(event, context):
    time.sleep(2)
    return {"statusCode": 200, "body": "late"}
"""
AUTHORIZER = """
def handler(event, context):
    return {"isAuthorized": event["headers"].get("x-token") == "good",
            "context": {"user": "ada", "route": event["routeKey"]}}
"""
BOOM = """
def handler(event, context):
    raise ValueError("boom")
"""


class Ember:
    """The module's server, which one test restarts on the same data dir and port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.stack = contextlib.ExitStack()
        self.server = self._start()

    def _start(self) -> Server:
        server: Server = self.stack.enter_context(
            run_server(self.root / "data", "--idle-timeout", "60", port=self.port)
        )
        return server

    def restart(self) -> None:
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.server = self._start()


@pytest.fixture(scope="module")
def ember(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ember]:
    holder = Ember(tmp_path_factory.mktemp("apis"))
    try:
        yield holder
    finally:
        holder.stack.close()


@pytest.fixture
def gw(ember: Ember) -> Any:
    return ember.server.client("apigatewayv2")


@pytest.fixture
def lam(ember: Ember) -> Any:
    return ember.server.client()


def _arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def _invocations(name: str) -> str:
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{_arn(name)}/invocations"


def _allow(lam: Any, name: str, api_id: str) -> None:
    lam.add_permission(
        FunctionName=name,
        StatementId=f"api-{api_id}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*",
    )


@pytest.fixture(scope="module")
def functions(ember: Ember) -> dict[str, str]:
    lam = ember.server.client()
    names = {}
    for key, code in (
        ("echo", ECHO),
        ("plain", PLAIN),
        ("slow", SLOW),
        ("boom", BOOM),
        ("auth", AUTHORIZER),
    ):
        names[key] = f"{key}-{uuid.uuid4().hex[:6]}"
        create_function(lam, names[key], code, Timeout=10)
    return names


def curl(url: str, *args: str) -> tuple[int, dict[str, str], bytes]:
    """curl as a user runs it: `*.localhost` resolves to loopback without any set-up."""
    done = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "60", *args, url], capture_output=True, check=True
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):  # curl's Expect: 100-continue for big bodies
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _api_with_echo(
    gw: Any, lam: Any, functions: dict[str, str], version: str = "2.0"
) -> tuple[str, str, str]:
    api = gw.create_api(Name=f"api-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")
    integration = gw.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=_arn(functions["echo"]),
        PayloadFormatVersion=version,
    )  # fmt: skip
    _allow(lam, functions["echo"], api["ApiId"])
    return api["ApiId"], api["ApiEndpoint"], integration["IntegrationId"]


# -- management -------------------------------------------------------------------------


def test_api_crud(gw: Any, functions: dict[str, str]) -> None:
    api = gw.create_api(Name="crud", ProtocolType="HTTP", Description="first")
    api_id = api["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert (
        api["ApiEndpoint"]
        == f"http://{api_id}.execute-api.localhost:{gw.meta.endpoint_url.rsplit(':', 1)[1]}"
    )
    assert api["ProtocolType"] == "HTTP"
    assert api["RouteSelectionExpression"] == "$request.method $request.path"
    assert gw.get_api(ApiId=api_id)["Description"] == "first"
    assert api_id in [a["ApiId"] for a in gw.get_apis()["Items"]]
    assert gw.update_api(ApiId=api_id, Name="renamed")["Name"] == "renamed"

    integration = gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=_arn(functions["echo"]),
        PayloadFormatVersion="2.0", TimeoutInMillis=5000,
    )  # fmt: skip
    integration_id = integration["IntegrationId"]
    assert integration["IntegrationMethod"] == "POST"
    assert gw.get_integration(ApiId=api_id, IntegrationId=integration_id)["TimeoutInMillis"] == 5000
    updated = gw.update_integration(ApiId=api_id, IntegrationId=integration_id, TimeoutInMillis=300)
    assert updated["TimeoutInMillis"] == 300
    assert updated["PayloadFormatVersion"] == "2.0"
    assert len(gw.get_integrations(ApiId=api_id)["Items"]) == 1

    route = gw.create_route(
        ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{integration_id}"
    )
    assert route["AuthorizationType"] == "NONE"
    route_id = route["RouteId"]
    assert gw.get_route(ApiId=api_id, RouteId=route_id)["RouteKey"] == "GET /items/{id}"
    assert (
        gw.update_route(ApiId=api_id, RouteId=route_id, RouteKey="PUT /items/{id}")["RouteKey"]
        == "PUT /items/{id}"
    )
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["PUT /items/{id}"]

    jwt = gw.create_authorizer(
        ApiId=api_id, AuthorizerType="JWT", Name="jwt",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["api"]},
    )  # fmt: skip
    assert jwt["JwtConfiguration"] == {"Issuer": "https://issuer.example", "Audience": ["api"]}
    request = gw.create_authorizer(
        ApiId=api_id, AuthorizerType="REQUEST", Name="lambda",
        IdentitySource=["$request.header.X-Token"], AuthorizerUri=_invocations(functions["echo"]),
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=60,
    )  # fmt: skip
    assert request["EnableSimpleResponses"] is True
    gw.update_route(
        ApiId=api_id, RouteId=route_id, AuthorizationType="JWT", AuthorizerId=jwt["AuthorizerId"],
        AuthorizationScopes=["read"],
    )  # fmt: skip
    assert gw.get_route(ApiId=api_id, RouteId=route_id)["AuthorizationScopes"] == ["read"]
    renamed = gw.update_authorizer(ApiId=api_id, AuthorizerId=jwt["AuthorizerId"], Name="jwt2")
    assert renamed["Name"] == "jwt2"
    assert len(gw.get_authorizers(ApiId=api_id)["Items"]) == 2
    gw.delete_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"])

    stage = gw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "blue"})
    assert stage["AutoDeploy"] is False
    assert "DeploymentId" not in stage
    deployment = gw.create_deployment(ApiId=api_id, StageName="prod", Description="v1")
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert (
        gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment["DeploymentId"]
    )
    assert [d["DeploymentId"] for d in gw.get_deployments(ApiId=api_id)["Items"]] == [
        deployment["DeploymentId"]
    ]
    assert gw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "red"})[
        "StageVariables"
    ] == {"color": "red"}
    assert [s["StageName"] for s in gw.get_stages(ApiId=api_id)["Items"]] == ["prod"]

    arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"
    gw.tag_resource(ResourceArn=arn, Tags={"team": "core", "env": "dev"})
    gw.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert gw.get_tags(ResourceArn=arn)["Tags"] == {"team": "core"}
    assert gw.get_api(ApiId=api_id)["Tags"] == {"team": "core"}
    gw.tag_resource(ResourceArn=f"{arn}/stages/prod", Tags={"tier": "1"})
    assert gw.get_stage(ApiId=api_id, StageName="prod")["Tags"] == {"tier": "1"}
    gw.delete_stage(ApiId=api_id, StageName="prod")
    gw.delete_route(ApiId=api_id, RouteId=route_id)
    gw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    gw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as exc:
        gw.get_api(ApiId=api_id)
    assert _code(exc) == ("NotFoundException", 404)
    assert (
        exc.value.response["Error"]["Message"]
        == f"Invalid API identifier specified {ACCOUNT}:{api_id}"
    )
    assert exc.value.response["ResourceType"] == "Api"


def test_bad_input_is_refused_and_changes_nothing(gw: Any, functions: dict[str, str]) -> None:
    with pytest.raises(ClientError) as exc:
        gw.create_api(
            Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )
    assert _code(exc) == ("BadRequestException", 400)
    api_id = gw.create_api(Name="bad", ProtocolType="HTTP")["ApiId"]
    integration_id = gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=_arn(functions["echo"]),
        PayloadFormatVersion="2.0",
    )["IntegrationId"]  # fmt: skip
    route_id = gw.create_route(
        ApiId=api_id, RouteKey="GET /a", Target=f"integrations/{integration_id}"
    )["RouteId"]
    before = (gw.get_routes(ApiId=api_id)["Items"], gw.get_integrations(ApiId=api_id)["Items"])

    for key in (
        "FETCH /a",
        "GET a",
        "GET /{proxy+}/b",
        "GET /a//b",
        "GET",
        "GET /{a}/{a}",
        "get /a",
    ):
        with pytest.raises(ClientError) as exc:
            gw.create_route(ApiId=api_id, RouteKey=key)
        assert _code(exc) == ("BadRequestException", 400), key
        assert exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        gw.update_route(ApiId=api_id, RouteId=route_id, RouteKey="GET nope")
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        gw.create_route(ApiId=api_id, RouteKey="GET /a")
    assert _code(exc) == ("ConflictException", 409)
    with pytest.raises(ClientError) as exc:
        gw.create_route(ApiId=api_id, RouteKey="GET /k", ApiKeyRequired=True)
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        gw.create_route(ApiId=api_id, RouteKey="GET /b", Target="integrations/missing")
    assert _code(exc) == ("NotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        gw.create_route(ApiId=api_id, RouteKey="GET /b", AuthorizationType="JWT")
    assert _code(exc) == ("BadRequestException", 400)
    bad_integrations: list[dict[str, Any]] = [
        {"IntegrationUri": "not-an-arn", "PayloadFormatVersion": "2.0"},
        {"IntegrationUri": _arn("x"), "PayloadFormatVersion": "3.0"},
        {"IntegrationUri": _arn("x")},
        {
            "IntegrationUri": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:x",
            "PayloadFormatVersion": "2.0",
        },
    ]
    for fields in bad_integrations:
        with pytest.raises(ClientError) as exc:
            gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", **fields)
        assert _code(exc) == ("BadRequestException", 400), fields
    with pytest.raises(ClientError) as exc:
        gw.update_integration(ApiId=api_id, IntegrationId=integration_id, PayloadFormatVersion="9")
    assert _code(exc) == ("BadRequestException", 400)
    # The model's range is 50-30000; botocore refuses 40 itself, so it goes out unchecked.
    with pytest.raises(ClientError) as exc:
        _raw(
            gw, "PATCH", f"/v2/apis/{api_id}/integrations/{integration_id}", {"timeoutInMillis": 40}
        )
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        gw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    assert _code(exc) == ("ConflictException", 409)
    for fields in (
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Audience": ["a"]},
        },
        {  # no AuthorizerPayloadFormatVersion
            "AuthorizerType": "REQUEST",
            "IdentitySource": ["$request.header.A"],
            "AuthorizerUri": _invocations("x"),
        },
        {  # not an identity source expression
            "AuthorizerType": "REQUEST",
            "IdentitySource": ["header.A"],
            "AuthorizerUri": _invocations("x"),
            "AuthorizerPayloadFormatVersion": "2.0",
        },
        {  # authorizers take the invocations form only
            "AuthorizerType": "REQUEST",
            "IdentitySource": ["$request.header.A"],
            "AuthorizerUri": _arn("x"),
            "AuthorizerPayloadFormatVersion": "2.0",
        },
    ):
        with pytest.raises(ClientError) as exc:
            gw.create_authorizer(ApiId=api_id, Name="a", **fields)
        assert _code(exc) == ("BadRequestException", 400), fields
    with pytest.raises(ClientError) as exc:
        gw.create_stage(ApiId=api_id, StageName="bad name")
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        gw.create_stage(ApiId=api_id, StageName="s", StageVariables={"bad key": "v"})
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        gw.get_route(ApiId=api_id, RouteId="nothere")
    assert _code(exc) == ("NotFoundException", 404)

    after = (gw.get_routes(ApiId=api_id)["Items"], gw.get_integrations(ApiId=api_id)["Items"])
    assert after == before
    assert gw.get_authorizers(ApiId=api_id)["Items"] == []
    assert gw.get_stages(ApiId=api_id)["Items"] == []
    gw.delete_api(ApiId=api_id)


def _raw(gw: Any, method: str, path: str, body: dict[str, Any]) -> None:
    """A request boto3 would refuse to send (its own checks), signed and parsed by botocore."""
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=gw.meta.endpoint_url + path, data=json.dumps(body))
    gw._request_signer.sign("UpdateIntegration", request)
    response = gw._endpoint.http_session.send(request.prepare())
    if response.status_code >= 300:
        code = response.headers.get("x-amzn-errortype", "")
        raise ClientError(
            {"Error": {"Code": code, "Message": json.loads(response.content)["message"]},
             "ResponseMetadata": {"HTTPStatusCode": response.status_code}},
            "UpdateIntegration",
        )  # fmt: skip


# -- serving ----------------------------------------------------------------------------


def test_quick_create_serves_at_the_endpoint_as_returned(
    gw: Any, lam: Any, functions: dict[str, str]
) -> None:
    api = gw.create_api(Name="quick", ProtocolType="HTTP", Target=_arn(functions["echo"]))
    api_id = api["ApiId"]
    routes = gw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    assert routes[0]["ApiGatewayManaged"] is True
    stage = gw.get_stage(ApiId=api_id, StageName="$default")
    assert stage["AutoDeploy"] is True
    assert stage["DeploymentId"]
    _allow(lam, functions["echo"], api_id)
    status, headers, body = curl(
        api["ApiEndpoint"] + "/hello/world?a=1&a=2&b=%20x", "-H", "Cookie: c1=1; c2=2",
        "-H", "X-Multi: one", "-H", "X-Multi: two", "--data-binary", '{"k": 1}',
        "-H", "Content-Type: application/json",
    )  # fmt: skip
    assert status == 200, body
    assert headers["x-echo"] == "1"
    assert headers["apigw-requestid"]
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/hello/world"
    assert event["rawQueryString"] == "a=1&a=2&b=%20x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": " x"}
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["body"] == '{"k": 1}'
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event
    assert "stageVariables" not in event
    context = event["requestContext"]
    assert context["apiId"] == api_id
    assert context["accountId"] == ACCOUNT
    assert context["domainName"] == f"{api_id}.execute-api.localhost"
    assert context["domainPrefix"] == api_id
    assert context["stage"] == "$default"
    assert context["routeKey"] == "$default"
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/hello/world"
    assert context["requestId"] == headers["apigw-requestid"]
    assert isinstance(context["timeEpoch"], int)
    gw.delete_api(ApiId=api_id)


def test_route_precedence(gw: Any, lam: Any, functions: dict[str, str]) -> None:
    api_id, endpoint, integration_id = _api_with_echo(gw, lam, functions)
    for key in ("GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /pets/{proxy+}",
                "ANY /{proxy+}", "$default", "GET /", "POST /pets/dog/{id}"):  # fmt: skip
        gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration_id}")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    def route(method: str, path: str) -> tuple[str, Any]:
        status, _, body = curl(endpoint + path, "-X", method)
        assert status == 200, (method, path, body)
        event = json.loads(body)
        return event["routeKey"], event.get("pathParameters")

    assert route("GET", "/pets/dog/1") == ("GET /pets/dog/1", None)
    assert route("GET", "/pets/dog/2") == ("GET /pets/dog/{id}", {"id": "2"})
    assert route("POST", "/pets/dog/2") == ("POST /pets/dog/{id}", {"id": "2"})
    assert route("GET", "/pets/cat/1") == ("GET /pets/{proxy+}", {"proxy": "cat/1"})
    assert route("DELETE", "/pets/cat") == ("ANY /pets/{proxy+}", {"proxy": "cat"})
    assert route("PUT", "/toys/ball") == ("ANY /{proxy+}", {"proxy": "toys/ball"})
    assert route("GET", "/") == ("GET /", None)
    assert route("POST", "/") == ("$default", None)
    gw.delete_api(ApiId=api_id)


def test_lambda_authorizer_guards_a_route(gw: Any, lam: Any, functions: dict[str, str]) -> None:
    api_id, endpoint, integration_id = _api_with_echo(gw, lam, functions)
    authorizer = gw.create_authorizer(
        ApiId=api_id, AuthorizerType="REQUEST", Name="token",
        IdentitySource=["$request.header.X-Token"], AuthorizerUri=_invocations(functions["auth"]),
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
    )  # fmt: skip
    _allow(lam, functions["auth"], api_id)
    gw.create_route(
        ApiId=api_id, RouteKey="GET /secure", Target=f"integrations/{integration_id}",
        AuthorizationType="CUSTOM", AuthorizerId=authorizer["AuthorizerId"],
    )  # fmt: skip
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, _, body = curl(endpoint + "/secure")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    status, _, body = curl(endpoint + "/secure", "-H", "X-Token: bad")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    status, _, body = curl(endpoint + "/secure", "-H", "X-Token: good")
    assert status == 200, body
    context = json.loads(body)["requestContext"]["authorizer"]
    assert context == {"lambda": {"user": "ada", "route": "GET /secure"}}
    # An authorizer in use cannot go.
    with pytest.raises(ClientError) as exc:
        gw.delete_authorizer(ApiId=api_id, AuthorizerId=authorizer["AuthorizerId"])
    assert _code(exc) == ("ConflictException", 409)
    gw.delete_api(ApiId=api_id)


def test_aws_iam_route_takes_signed_requests_only(
    gw: Any, lam: Any, functions: dict[str, str]
) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    api_id, endpoint, integration_id = _api_with_echo(gw, lam, functions)
    gw.create_route(
        ApiId=api_id, RouteKey="GET /iam", Target=f"integrations/{integration_id}",
        AuthorizationType="AWS_IAM",
    )  # fmt: skip
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, _, body = curl(endpoint + "/iam")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    request = AWSRequest(method="GET", url=endpoint + "/iam?x=1")
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "execute-api", REGION).add_auth(request)
    headers = [arg for name, value in request.headers.items() for arg in ("-H", f"{name}: {value}")]
    status, _, body = curl(endpoint + "/iam?x=1", *headers)
    assert status == 200, body
    iam = json.loads(body)["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "AKIDEXAMPLE"
    assert iam["accountId"] == ACCOUNT
    # Signed for another service: refused.
    request = AWSRequest(method="GET", url=endpoint + "/iam")
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "lambda", REGION).add_auth(request)
    headers = [arg for name, value in request.headers.items() for arg in ("-H", f"{name}: {value}")]
    assert curl(endpoint + "/iam", *headers)[0] == 403
    gw.delete_api(ApiId=api_id)


def test_cors_preflight_and_headers(gw: Any, lam: Any, functions: dict[str, str]) -> None:
    api = gw.create_api(
        Name="cors", ProtocolType="HTTP", Target=_arn(functions["echo"]),
        CorsConfiguration={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"],
                           "AllowHeaders": ["authorization"], "MaxAge": 60},
    )  # fmt: skip
    _allow(lam, functions["echo"], api["ApiId"])
    status, headers, body = curl(
        api["ApiEndpoint"] + "/x", "-X", "OPTIONS", "-H", "Origin: https://app.example",
        "-H", "Access-Control-Request-Method: GET",
    )  # fmt: skip
    assert status == 204
    assert body == b""
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET"
    assert headers["access-control-max-age"] == "60"
    status, headers, _ = curl(api["ApiEndpoint"] + "/x", "-H", "Origin: https://app.example")
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    status, headers, _ = curl(api["ApiEndpoint"] + "/x", "-H", "Origin: https://evil.example")
    assert status == 200
    assert "access-control-allow-origin" not in headers
    gw.delete_api(ApiId=api["ApiId"])


def test_not_found(gw: Any, lam: Any, functions: dict[str, str], ember: Ember) -> None:
    status, _, body = curl(f"http://nosuchapi00.execute-api.localhost:{ember.port}/x")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    api_id, endpoint, integration_id = _api_with_echo(gw, lam, functions)
    status, _, body = curl(endpoint + "/x")  # no stage yet
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{integration_id}")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert curl(endpoint + "/x")[0] == 200
    status, _, body = curl(endpoint + "/y")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    gw.delete_api(ApiId=api_id)


def test_named_stage_with_variables_and_payload_v1(
    gw: Any, lam: Any, functions: dict[str, str]
) -> None:
    api_id, endpoint, integration_id = _api_with_echo(gw, lam, functions, version="1.0")
    gw.create_route(
        ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{integration_id}"
    )
    gw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "blue"})
    status, _, _ = curl(endpoint + "/prod/items/7")
    assert status == 404  # not deployed yet
    gw.create_deployment(ApiId=api_id, StageName="prod")
    status, _headers, body = curl(
        endpoint + "/prod/items/7?q=1&q=2", "-H", "X-A: 1", "-H", "X-A: 2"
    )
    assert status == 200, body
    event = json.loads(body)
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/prod/items/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["queryStringParameters"] == {"q": "2"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["headers"]["x-a"] == "2"
    assert event["multiValueHeaders"]["x-a"] == ["1", "2"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "prod"
    assert context["resourcePath"] == "/items/{id}"
    assert context["httpMethod"] == "GET"
    assert context["apiId"] == api_id
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    # A route added later is served once deployed (the stage does not deploy itself).
    gw.create_route(ApiId=api_id, RouteKey="GET /later", Target=f"integrations/{integration_id}")
    assert curl(endpoint + "/prod/later")[0] == 404
    gw.create_deployment(ApiId=api_id, StageName="prod")
    assert curl(endpoint + "/prod/later")[0] == 200
    gw.delete_api(ApiId=api_id)


def test_stage_variable_names_the_function(gw: Any, lam: Any, functions: dict[str, str]) -> None:
    api_id = gw.create_api(Name="var", ProtocolType="HTTP")["ApiId"]
    endpoint = gw.get_api(ApiId=api_id)["ApiEndpoint"]
    integration = gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:${{stageVariables.fn}}",
    )  # fmt: skip
    gw.create_route(
        ApiId=api_id, RouteKey="GET /v", Target=f"integrations/{integration['IntegrationId']}"
    )
    _allow(lam, functions["echo"], api_id)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    gw.create_stage(
        ApiId=api_id, StageName="blue", AutoDeploy=True, StageVariables={"fn": functions["echo"]}
    )
    status, _, body = curl(endpoint + "/blue/v")
    assert status == 200, body
    assert json.loads(body)["stageVariables"] == {"fn": functions["echo"]}
    status, _, body = curl(endpoint + "/v")  # $default has no `fn`
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    gw.delete_api(ApiId=api_id)


def test_payload_v2_answer_inferred(gw: Any, lam: Any, functions: dict[str, str]) -> None:
    api = gw.create_api(Name="plain", ProtocolType="HTTP", Target=_arn(functions["plain"]))
    _allow(lam, functions["plain"], api["ApiId"])
    status, headers, body = curl(api["ApiEndpoint"] + "/p")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"hello": "/p"}
    gw.delete_api(ApiId=api["ApiId"])


def test_integration_timeout_and_function_error(
    gw: Any, lam: Any, functions: dict[str, str]
) -> None:
    api_id = gw.create_api(Name="errors", ProtocolType="HTTP")["ApiId"]
    endpoint = gw.get_api(ApiId=api_id)["ApiEndpoint"]
    for key, name, timeout in (("GET /slow", "slow", 100), ("GET /boom", "boom", 30000)):
        integration = gw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=_arn(functions[name]),
            PayloadFormatVersion="2.0", TimeoutInMillis=timeout,
        )  # fmt: skip
        gw.create_route(
            ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}"
        )
        _allow(lam, functions[name], api_id)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, _, body = curl(endpoint + "/slow")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    status, _, body = curl(endpoint + "/boom")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    # A throttled function (reserved concurrency 0) answers as AWS's: 500, not 429.
    lam.put_function_concurrency(FunctionName=functions["boom"], ReservedConcurrentExecutions=0)
    try:
        status, _, body = curl(endpoint + "/boom")
        assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    finally:
        lam.delete_function_concurrency(FunctionName=functions["boom"])
    gw.delete_api(ApiId=api_id)


def test_missing_permission_fails_as_on_aws(
    gw: Any, lam: Any, functions: dict[str, str], ember: Ember
) -> None:
    name = f"noperm-{uuid.uuid4().hex[:6]}"
    create_function(lam, name, ECHO)
    api = gw.create_api(Name="noperm", ProtocolType="HTTP", Target=_arn(name))
    status, _, body = curl(api["ApiEndpoint"] + "/x")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    wait_until(lambda: f"may not invoke function {name}" in ember.server.output())
    assert "ember.gateway" in ember.server.output()
    # Permission for another API's ARN does not help; for this one it does.
    _allow(lam, name, "otherapi00")
    assert curl(api["ApiEndpoint"] + "/x")[0] == 500
    lam.add_permission(
        FunctionName=name, StatementId="this", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['ApiId']}/*/$default",
    )  # fmt: skip
    assert curl(api["ApiEndpoint"] + "/x")[0] == 200
    gw.delete_api(ApiId=api["ApiId"])


def test_body_over_10_mb_is_refused(
    gw: Any, lam: Any, functions: dict[str, str], tmp_path: Path
) -> None:
    api = gw.create_api(Name="big", ProtocolType="HTTP", Target=_arn(functions["echo"]))
    _allow(lam, functions["echo"], api["ApiId"])
    big = tmp_path / "big"
    big.write_bytes(b"x" * (10 * 1024 * 1024 + 1))
    status, _, body = curl(api["ApiEndpoint"] + "/up", "--data-binary", f"@{big}")
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})
    gw.delete_api(ApiId=api["ApiId"])


def test_apis_survive_a_restart(ember: Ember, functions: dict[str, str]) -> None:
    gw = ember.server.client("apigatewayv2")
    lam = ember.server.client()
    api = gw.create_api(Name="durable", ProtocolType="HTTP", Target=_arn(functions["echo"]))
    _allow(lam, functions["echo"], api["ApiId"])
    ember.restart()
    gw = ember.server.client("apigatewayv2")
    assert gw.get_api(ApiId=api["ApiId"])["Name"] == "durable"
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api["ApiId"])["Items"]] == ["$default"]
    status, _, body = curl(api["ApiEndpoint"] + "/again")
    assert status == 200
    assert json.loads(body)["rawPath"] == "/again"
