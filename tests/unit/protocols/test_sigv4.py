"""The SigV4 verifier against requests boto3 itself built and signed (captured before they
are sent), in the header and presigned forms."""

from __future__ import annotations

import datetime
import json
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ember.errors import IncompleteSignatureError, InvalidSignatureError
from ember.protocols.sigv4 import SignedRequest, parse_signature, verify

KEY, SECRET = "AKIAEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime.datetime(2026, 11, 28, 8, 0, 0)
NOW = SIGNED_AT.replace(tzinfo=datetime.UTC).timestamp()


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _as_received(method: str, url: str, headers: Any, body: bytes | None) -> SignedRequest:
    """The request as the server sees it: raw path and query, lower-case headers, and the
    Host header the HTTP client adds."""
    parts = urlsplit(url)
    seen = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in headers.items()}
    seen["host"] = parts.netloc
    return SignedRequest(method, parts.path.encode(), parts.query.encode(), seen, body or b"")


def _capture(service: str, operation: str, secret: str = SECRET, **params: Any) -> SignedRequest:
    client = boto3.client(
        service,
        endpoint_url="http://127.0.0.1:9001",
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=secret,
        aws_session_token=params.pop("_token", None),
    )

    def stop(request: Any, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send", stop)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT),
        pytest.raises(_Captured) as caught,
    ):
        getattr(client, operation)(**params)
    sent = caught.value.request
    body = sent.body if isinstance(sent.body, bytes) else (sent.body or "").encode()
    return _as_received(sent.method, sent.url, sent.headers, body)


def _check(request: SignedRequest, secret: str = SECRET, now: float = NOW) -> None:
    signature = parse_signature(request)
    assert signature is not None
    verify(request, signature, secret, now)


REQUESTS = [
    ("lambda", "list_functions", {}),
    ("lambda", "list_functions", {"Marker": "a/b+c=d ü", "MaxItems": 5}),
    ("lambda", "invoke", {"FunctionName": "fn", "Payload": b'{"a": 1}', "Qualifier": "$LATEST"}),
    (
        "lambda",
        "invoke",
        {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:fn:live", "Payload": b""},
    ),
    ("lambda", "get_function", {"FunctionName": "my-fn", "Qualifier": "7"}),
    ("lambda", "update_function_configuration", {"FunctionName": "fn", "Timeout": 9}),
    ("lambda", "delete_function", {"FunctionName": "fn"}),
    ("lambda", "tag_resource", {"Resource": "arn:aws:lambda:us-east-1:0:function:f", "Tags": {}}),
    ("logs", "describe_log_groups", {"logGroupNamePrefix": "/aws/lambda/"}),
    ("logs", "create_log_stream", {"logGroupName": "g", "logStreamName": "s"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), REQUESTS)
def test_accepts_what_boto3_signs(service: str, operation: str, params: dict[str, Any]) -> None:
    _check(_capture(service, operation, **params))


def test_accepts_session_credentials_and_reads_the_token() -> None:
    request = _capture("lambda", "list_functions", _token="the-session-token")
    signature = parse_signature(request)
    assert signature is not None
    assert signature.token == "the-session-token"
    assert signature.access_key == KEY
    assert signature.scope == "20261128/us-east-1/lambda/aws4_request"
    verify(request, signature, SECRET, NOW)


def test_wrong_secret_is_refused_with_the_canonical_request() -> None:
    request = _capture("lambda", "get_function", FunctionName="fn")
    with pytest.raises(InvalidSignatureError) as refused:
        _check(request, secret="not-the-secret")
    assert refused.value.message.startswith(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    )
    assert "GET\n/2015-03-31/functions/fn\n" in refused.value.message


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: SignedRequest(r.method, r.raw_path, r.raw_query, r.headers, b'{"a": 2}'),
        lambda r: SignedRequest(
            r.method, b"/2015-03-31/functions/other/invocations", r.raw_query, r.headers, r.body
        ),
        lambda r: SignedRequest(r.method, r.raw_path, b"Qualifier=1", r.headers, r.body),
        lambda r: SignedRequest("PUT", r.raw_path, r.raw_query, r.headers, r.body),
        lambda r: SignedRequest(
            r.method, r.raw_path, r.raw_query, {**r.headers, "host": "evil:1"}, r.body
        ),
    ],
)
def test_any_change_to_a_signed_part_is_refused(tamper: Any) -> None:
    request = _capture("lambda", "invoke", FunctionName="fn", Payload=b'{"a": 1}')
    with pytest.raises(InvalidSignatureError):
        _check(tamper(request))


def test_unsigned_headers_may_change() -> None:
    request = _capture("lambda", "list_functions")
    _check(
        SignedRequest(
            request.method,
            request.raw_path,
            request.raw_query,
            {**request.headers, "user-agent": "other"},
            request.body,
        )
    )


@pytest.mark.parametrize("minutes", [-14, 14])
def test_fifteen_minutes_of_skew_are_allowed(minutes: int) -> None:
    _check(_capture("lambda", "list_functions"), now=NOW + minutes * 60)


def test_a_signature_older_than_fifteen_minutes_has_expired() -> None:
    with pytest.raises(InvalidSignatureError) as refused:
        _check(_capture("lambda", "list_functions"), now=NOW + 16 * 60)
    assert refused.value.message == (
        "Signature expired: 20261128T080000Z is now earlier than 20261128T080100Z "
        "(20261128T081600Z - 15 min.)"
    )


def test_a_signature_from_the_future_is_not_yet_current() -> None:
    with pytest.raises(InvalidSignatureError) as refused:
        _check(_capture("lambda", "list_functions"), now=NOW - 16 * 60)
    assert refused.value.message == (
        "Signature not yet current: 20261128T080000Z is still later than 20261128T075900Z "
        "(20261128T074400Z + 15 min.)"
    )


def _presigned(expires: int, secret: str = SECRET) -> SignedRequest:
    request = AWSRequest(
        method="GET",
        url="http://127.0.0.1:9001/2015-03-31/functions/fn?Qualifier=%24LATEST",
    )
    auth = SigV4QueryAuth(Credentials(KEY, secret, "tok"), "lambda", "us-east-1", expires)
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        auth.add_auth(request)
    prepared = request.prepare()
    return _as_received(prepared.method, prepared.url, prepared.headers, None)


def test_presigned_urls_work_until_they_expire() -> None:
    request = _presigned(300)
    signature = parse_signature(request)
    assert signature is not None
    assert signature.expires == 300
    assert signature.token == "tok"
    _check(request, now=NOW + 299)
    with pytest.raises(InvalidSignatureError, match=r"^Signature expired: 20261128T080000Z"):
        _check(request, now=NOW + 301)
    with pytest.raises(InvalidSignatureError):
        _check(_presigned(300, secret="other"))


def test_no_signature_is_none() -> None:
    assert parse_signature(SignedRequest("GET", b"/", b"", {"host": "h"})) is None


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256 Credential=AKIA/20261128/us-east-1/lambda/aws4_request",
        "AWS AKIA:signature",
        "AWS4-HMAC-SHA256 Credential=AKIA/20261128/us-east-1, SignedHeaders=host, Signature=00",
    ],
)
def test_malformed_signatures_are_incomplete(header: str) -> None:
    request = SignedRequest(
        "GET", b"/", b"", {"host": "h", "authorization": header, "x-amz-date": "20261128T080000Z"}
    )
    with pytest.raises(IncompleteSignatureError):
        parse_signature(request)


def test_json_bodies_are_covered() -> None:
    request = _capture(
        "logs",
        "put_log_events",
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": 1, "message": "m"}],
    )
    assert json.loads(request.body)["logGroupName"] == "g"
    _check(request)


def test_presigned_urls_signed_over_unsigned_payload_work_too() -> None:
    """As S3's presigner and some SDKs sign: UNSIGNED-PAYLOAD instead of the body's hash."""
    request = AWSRequest(method="GET", url="http://127.0.0.1:9001/2015-03-31/functions/fn")
    auth = S3SigV4QueryAuth(Credentials(KEY, SECRET), "lambda", "us-east-1", 60)
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        auth.add_auth(request)
    prepared = request.prepare()
    _check(_as_received(prepared.method, prepared.url, prepared.headers, None))


@pytest.mark.parametrize("date", ["2026112808000Z", "20261128T080000", "2026112\uff18T080000Z",
                                  "20261328T080000Z", "20261128T250000Z"])  # fmt: skip
def test_malformed_dates_are_incomplete(date: str) -> None:
    header = (
        f"AWS4-HMAC-SHA256 Credential=AKIA/{date[:8]}/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00"
    )
    request = SignedRequest("GET", b"/", b"", {"host": "h", "authorization": header,
                                               "x-amz-date": date})  # fmt: skip
    with pytest.raises(IncompleteSignatureError, match="ISO-8601"):
        parse_signature(request)
