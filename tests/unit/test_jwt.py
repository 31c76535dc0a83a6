"""JWT authorizers: every kind of token, against an issuer whose keys are generated per run
and served through an in-memory fetch (the JWKS seam)."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from ember.clock import ManualClock
from ember.gateway.authorizers import AuthorizerEngine, AuthRequest, Decision
from ember.gateway.authorizers.jwks import FetchError
from ember.gateway.authorizers.jwt import bearer, claims_context, token_scopes

ISSUER = "https://issuer.example.test/pool"
AUDIENCE = "ember-client"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
OTHER_RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})  # same kid, other key
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})

AUTHORIZER = {
    "AuthorizerId": "jwt1",
    "AuthorizerType": "JWT",
    "IdentitySource": ["$request.header.Authorization"],
    "JwtConfiguration": {"Issuer": ISSUER, "Audience": [AUDIENCE, "second"]},
    "Name": "jwt",
}


class Issuer:
    """Discovery document and JWKS as a fetch function; counts and can fail requests."""

    def __init__(self) -> None:
        self.keys: list[Any] = [RSA, EC]
        self.fetches: list[str] = []
        self.down = False

    async def __call__(self, url: str) -> Any:
        self.fetches.append(url)
        if self.down:
            raise FetchError(f"GET {url}: connection refused")
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks.json"}
        if url == f"{ISSUER}/jwks.json":
            return {"keys": [key.as_dict(private=False) for key in self.keys]}
        raise FetchError(f"GET {url}: 404")


def _request(authorization: str | None) -> AuthRequest:
    headers = {"host": "abc.execute-api.localhost"}
    if authorization is not None:
        headers["authorization"] = authorization
    return AuthRequest(method="GET", raw_path="/items", raw_query="", headers=headers)


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.issuer = Issuer()
        self.engine = AuthorizerEngine(
            _NoInvoker(),
            self.clock,
            region="us-east-1",
            account="123456789012",
            fetch=self.issuer,
        )

    def claims(self, **extra: Any) -> dict[str, Any]:
        now = int(self.clock.wall())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 600,
        }
        claims.update(extra)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, key: Any = RSA, alg: str = "RS256", **extra: Any) -> str:
        return jwt.encode({"alg": alg, "kid": key.kid}, self.claims(**extra), key)

    def decide(
        self, token: str | None, scopes: list[str] | None = None, authorizer: Any = AUTHORIZER
    ) -> Decision:
        header = None if token is None else f"Bearer {token}"
        return asyncio.run(self.engine.decide(authorizer, scopes or [], _request(header)))


class _NoInvoker:
    async def invoke(self, name: str, qualifier: str | None, payload: bytes) -> Any:
        raise AssertionError("a JWT authorizer invokes nothing")


@pytest.fixture
def world() -> World:
    return World()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _assert_unauthorized(decision: Decision) -> None:
    assert not decision.allowed
    assert decision.status == 401
    assert orjson.loads(decision.body) == {"message": "Unauthorized"}


def test_a_valid_rs256_token_is_allowed_with_its_claims(world: World) -> None:
    decision = world.decide(world.token(email="a@example.com", email_verified=True))
    assert decision.allowed
    context = decision.context_for("2.0")
    assert context is not None
    claims = context["jwt"]["claims"]
    assert claims["sub"] == "user-1"
    assert claims["email_verified"] == "true"
    assert claims["exp"] == str(int(world.clock.wall()) + 600)  # claims travel as strings
    assert context["jwt"]["scopes"] is None  # the route requires no scopes
    assert decision.context_for("1.0") == {"claims": claims, "scopes": None}


def test_a_valid_es256_token_is_allowed(world: World) -> None:
    assert world.decide(world.token(EC, "ES256")).allowed


def test_the_token_may_come_without_bearer(world: World) -> None:
    token = world.token()
    decision = asyncio.run(world.engine.decide(AUTHORIZER, [], _request(token)))
    assert decision.allowed
    assert bearer("bearer  abc ") == "abc"


def test_no_token_is_unauthorized(world: World) -> None:
    _assert_unauthorized(world.decide(None))
    assert world.issuer.fetches == []  # nothing to check, nothing fetched


@pytest.mark.parametrize(
    "garbage", ["", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.e30.", "x" * 20000]
)
def test_garbage_is_unauthorized(world: World, garbage: str) -> None:
    _assert_unauthorized(world.decide(garbage))


def test_a_bad_signature_is_unauthorized(world: World) -> None:
    forged = world.token(OTHER_RSA)  # kid rsa-1, signed by another key
    decision = world.decide(forged)
    _assert_unauthorized(decision)
    assert (
        "www-authenticate",
        'Bearer scope="" error="invalid_token" '
        'error_description="the token\'s signature is invalid"',
    ) in decision.headers


def test_a_tampered_payload_is_unauthorized(world: World) -> None:
    header, _, signature = world.token().split(".")
    tampered = f"{header}.{_b64(world.claims(sub='admin'))}.{signature}"
    _assert_unauthorized(world.decide(tampered))


def test_alg_none_is_unauthorized(world: World) -> None:
    unsigned = f"{_b64({'alg': 'none', 'kid': 'rsa-1'})}.{_b64(world.claims())}."
    _assert_unauthorized(world.decide(unsigned))


def test_hmac_signed_with_the_public_key_is_unauthorized(world: World) -> None:
    # The classic confusion attack: HS256 keyed with the issuer's public key bytes.
    secret = OctKey.import_key(orjson.dumps(RSA.as_dict(private=False)))
    forged = jwt.encode({"alg": "HS256", "kid": "rsa-1"}, world.claims(), secret)
    _assert_unauthorized(world.decide(forged))


def test_an_ec_key_cannot_check_an_rs256_header(world: World) -> None:
    _, payload, signature = world.token(EC, "ES256").split(".")
    confused = f"{_b64({'alg': 'RS256', 'kid': 'ec-1'})}.{payload}.{signature}"
    _assert_unauthorized(world.decide(confused))


def test_a_token_without_kid_is_unauthorized(world: World) -> None:
    token = jwt.encode({"alg": "RS256"}, world.claims(), RSA)
    _assert_unauthorized(world.decide(token))


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example.test/pool"},
        {"iss": ISSUER + "/"},
        {"iss": None},
        {"aud": "someone-else"},
        {"aud": ["someone-else", "another"]},
        {"aud": None},
        {"aud": "someone-else", "client_id": AUDIENCE},  # aud is evaluated when present
        {"exp": None},
        {"exp": "tomorrow"},
    ],
)
def test_wrong_claims_are_unauthorized(world: World, claims: dict[str, Any]) -> None:
    _assert_unauthorized(world.decide(world.token(**claims)))


def test_client_id_stands_for_a_missing_aud(world: World) -> None:
    assert world.decide(world.token(aud=None, client_id=AUDIENCE)).allowed
    assert world.decide(world.token(aud=["x", "second"])).allowed


def test_time_claims_have_no_leeway(world: World) -> None:
    now = int(world.clock.wall())
    _assert_unauthorized(world.decide(world.token(exp=now)))
    _assert_unauthorized(world.decide(world.token(exp=now - 1)))
    _assert_unauthorized(world.decide(world.token(nbf=now + 1)))
    _assert_unauthorized(world.decide(world.token(iat=now + 1)))
    assert world.decide(world.token(nbf=now, exp=now + 1)).allowed


def test_a_remembered_token_still_expires(world: World) -> None:
    token = world.token(exp=int(world.clock.wall()) + 30)
    assert world.decide(token).allowed
    world.clock.advance(29)
    assert world.decide(token).allowed
    world.clock.advance(1)
    decision = world.decide(token)
    _assert_unauthorized(decision)
    assert "expired" in decision.reason


def test_route_scopes_against_scope_and_scp(world: World) -> None:
    decision = world.decide(world.token(scope="items/read items/write"), ["items/read"])
    assert decision.allowed
    context = decision.context_for("2.0")
    assert context is not None
    assert context["jwt"]["scopes"] == ["items/read", "items/write"]
    assert world.decide(world.token(scp=["admin", "items/read"]), ["items/read"]).allowed
    forbidden = world.decide(world.token(scope="items/write"), ["items/read", "items/delete"])
    assert (forbidden.status, orjson.loads(forbidden.body)) == (403, {"message": "Forbidden"})
    assert forbidden.headers[0][1].startswith(
        'Bearer scope="items/read items/delete" error="insufficient_scope"'
    )
    assert world.decide(world.token(), ["items/read"]).status == 403


def test_unknown_kid_refreshes_once_then_is_unauthorized(world: World) -> None:
    assert world.decide(world.token()).allowed
    assert len(world.issuer.fetches) == 2  # discovery, then the key set
    stranger = RSAKey.generate_key(2048, parameters={"kid": "nobody"})
    _assert_unauthorized(world.decide(world.token(stranger)))
    assert len(world.issuer.fetches) == 2  # fetched just now: no refresh yet
    world.clock.advance(10)
    _assert_unauthorized(world.decide(world.token(stranger)))
    assert len(world.issuer.fetches) == 4  # one refresh for the unknown kid
    _assert_unauthorized(world.decide(world.token(stranger)))
    assert len(world.issuer.fetches) == 4  # refreshes are rate-limited
    world.clock.advance(10)
    _assert_unauthorized(world.decide(world.token(stranger)))
    assert len(world.issuer.fetches) == 6


def test_a_rotated_key_is_fetched_when_a_token_names_it(world: World) -> None:
    assert world.decide(world.token()).allowed
    world.issuer.keys = [RSA, ROTATED]
    world.clock.advance(10)
    assert world.decide(world.token(ROTATED)).allowed
    assert world.decide(world.token()).allowed  # the old key still serves its tokens


def test_jwks_unreachable_is_unauthorized_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.issuer.down = True
    with caplog.at_level(logging.WARNING, logger="ember.gateway"):
        decision = world.decide(world.token())
    _assert_unauthorized(decision)
    assert any(
        record.name == "ember.gateway" and ISSUER in record.getMessage()
        for record in caplog.records
    )
    world.issuer.down = False
    _assert_unauthorized(world.decide(world.token()))  # failed fetches are rate-limited too
    world.clock.advance(10)
    assert world.decide(world.token()).allowed


def test_cached_keys_outlive_a_failing_refresh(world: World) -> None:
    assert world.decide(world.token()).allowed
    world.issuer.down = True
    world.clock.advance(3 * 3600)  # past the two hours keys are kept
    assert world.decide(world.token()).allowed


def test_jwks_without_jwks_uri_is_unauthorized(world: World) -> None:
    authorizer = {
        **AUTHORIZER,
        "JwtConfiguration": {"Issuer": "https://nowhere.test", "Audience": [AUDIENCE]},
    }
    token = world.token(iss="https://nowhere.test")
    _assert_unauthorized(world.decide(token, authorizer=authorizer))


def test_a_custom_identity_source(world: World) -> None:
    authorizer = {**AUTHORIZER, "IdentitySource": ["$request.querystring.access_token"]}
    request = AuthRequest(
        method="GET",
        raw_path="/",
        raw_query="",
        headers={},
        query={"access_token": world.token()},
    )
    assert asyncio.run(world.engine.decide(authorizer, [], request)).allowed


def test_claims_context_flattens_values() -> None:
    assert claims_context(
        {"a": "x", "n": 5, "f": 1.5, "g": 2.0, "t": False, "l": ["p", 1], "o": {"k": 1}}
    ) == {"a": "x", "n": "5", "f": "1.5", "g": "2", "t": "false", "l": "[p 1]", "o": '{"k":1}'}
    assert token_scopes({"scp": "a b"}) == ["a", "b"]
    assert token_scopes({}) == []
