"""Checking AWS Signature Version 4: the `Authorization: AWS4-HMAC-SHA256 …` header form and
the presigned query form (`X-Amz-Signature=…`), with AWS's 15-minute clock skew.

The canonical request is rebuilt from the request as it arrived (raw path and query bytes,
the headers the client says it signed), the way botocore builds it when it signs: the path
normalised and URI-encoded once more, the query decoded and re-encoded, header values
trimmed. Errors carry AWS's wording.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from botocore.utils import normalize_url_path

from ember.errors import IncompleteSignatureError, InvalidSignatureError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60  # AWS: a signature is good for 15 minutes either side of its date
MAX_EXPIRES = 7 * 24 * 3600  # AWS: a presigned URL lives at most 7 days
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)


@dataclasses.dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request that SigV4 covers, as they arrived."""

    method: str
    raw_path: bytes
    raw_query: bytes
    # Lower-case names, values decoded as latin-1 (as ASGI servers hand them over, so the
    # canonical request encodes back to the bytes that came); repeats joined with ",".
    headers: Mapping[str, str]
    body: bytes = b""
    # The body's SHA-256 in hex when it was hashed as it streamed in (then `body` is unused).
    body_sha256: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Signature:
    """What a signed request claims: whose key, when, for which scope, over which headers."""

    access_key: str
    scope_date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date: YYYYMMDDTHHMMSSZ
    token: str | None  # X-Amz-Security-Token (temporary credentials)
    expires: int | None  # X-Amz-Expires: presigned URLs only

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/aws4_request"


def is_signed(request: SignedRequest) -> bool:
    """Whether the request carries a SigV4 signature in either form (cheap: no parsing)."""
    return "authorization" in request.headers or b"X-Amz-Signature=" in request.raw_query


def parse_signature(request: SignedRequest) -> Signature | None:
    """The request's signature, or None when it carries none; malformed ones raise
    IncompleteSignatureError as AWS words it."""
    header = request.headers.get("authorization")
    if header is not None:
        return _from_header(header, request.headers)
    if b"X-Amz-Signature=" in request.raw_query:
        return _from_query(request)
    return None


def _from_header(header: str, headers: Mapping[str, str]) -> Signature:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureError(
            f"Authorization header requires '{ALGORITHM}' as its algorithm. Authorization={header}"
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    missing = [n for n in ("Credential", "Signature", "SignedHeaders") if not fields.get(n)]
    if missing:
        wants = " ".join(f"Authorization header requires '{n}' parameter." for n in missing)
        raise IncompleteSignatureError(f"{wants} Authorization={header}")
    timestamp = headers.get("x-amz-date")
    if not timestamp:
        raise IncompleteSignatureError(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            f"header. Authorization={header}"
        )
    return _signature(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        timestamp,
        headers.get("x-amz-security-token"),
        None,
    )


def _from_query(request: SignedRequest) -> Signature:
    params = dict(parse_qsl(request.raw_query.decode("latin-1"), keep_blank_values=True))
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders"):
        if not params.get(name):
            raise IncompleteSignatureError(
                f"AWS query-string parameters must include '{name}'. "
                "Re-examine the query-string parameters."
            )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureError(
            f"X-Amz-Algorithm only supports '{ALGORITHM}'. Re-examine the query-string parameters."
        )
    raw_expires = params.get("X-Amz-Expires", "")
    if (
        not (raw_expires.isascii() and raw_expires.isdigit())
        or not 0 < int(raw_expires) <= MAX_EXPIRES
    ):
        raise IncompleteSignatureError(
            f"X-Amz-Expires must be a number of seconds between 1 and {MAX_EXPIRES}. "
            "Re-examine the query-string parameters."
        )
    return _signature(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        params.get("X-Amz-Security-Token") or request.headers.get("x-amz-security-token"),
        int(raw_expires),
    )


def _signature(
    credential: str,
    signed_headers: str,
    signature: str,
    timestamp: str,
    token: str | None,
    expires: int | None,
) -> Signature:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise IncompleteSignatureError(
            f"Credential should be scoped to a valid region and service: '{credential}'. "
            "Expected <key>/<date>/<region>/<service>/aws4_request."
        )
    if parts[4] != "aws4_request":
        raise IncompleteSignatureError(
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{parts[4]}'."
        )
    if _epoch(timestamp) is None:
        raise IncompleteSignatureError(
            f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601"
        )
    if timestamp[:8] != parts[1]:
        raise InvalidSignatureError(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{parts[1]}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    return Signature(
        access_key=parts[0],
        scope_date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(signed_headers.split(";")),
        signature=signature,
        timestamp=timestamp,
        token=token,
        expires=expires,
    )


def _epoch(timestamp: str) -> int | None:
    """Seconds since the epoch of `YYYYMMDDTHHMMSSZ` (by hand: strptime costs ~10 µs)."""
    if len(timestamp) != 16 or timestamp[8] != "T" or timestamp[15] != "Z":
        return None
    digits = timestamp[:8] + timestamp[9:15]
    if not (digits.isascii() and digits.isdigit()):
        return None
    parts = [int(digits[:4]), int(digits[4:6]), int(digits[6:8]),
             int(digits[8:10]), int(digits[10:12]), int(digits[12:14])]  # fmt: skip
    if not (1 <= parts[1] <= 12 and 1 <= parts[2] <= 31 and parts[3] < 24 and parts[4] < 60
            and parts[5] < 61):  # fmt: skip
        return None
    return calendar.timegm((*parts, 0, 0, 0))


def _stamp(epoch: float) -> str:
    return time.strftime(_TIMESTAMP, time.gmtime(epoch))


def check_time(signature: Signature, now: float) -> None:
    """AWS's window: 15 minutes either side of the signature's date, and for a presigned
    URL, no later than its date plus X-Amz-Expires."""
    signed = _epoch(signature.timestamp)
    assert signed is not None  # parse_signature checked it
    if signed > now + MAX_SKEW:
        raise InvalidSignatureError(
            f"Signature not yet current: {signature.timestamp} is still later than "
            f"{_stamp(now + MAX_SKEW)} ({_stamp(now)} + 15 min.)"
        )
    if signature.expires is not None:
        if now > signed + signature.expires:
            raise InvalidSignatureError(
                f"Signature expired: {signature.timestamp} is now earlier than "
                f"{_stamp(now - signature.expires)} ({_stamp(now)} - "
                f"{signature.expires} sec.)"
            )
    elif signed < now - MAX_SKEW:
        raise InvalidSignatureError(
            f"Signature expired: {signature.timestamp} is now earlier than "
            f"{_stamp(now - MAX_SKEW)} ({_stamp(now)} - 15 min.)"
        )


def canonical_request(
    request: SignedRequest, signature: Signature, payload_hash: str | None = None
) -> str:
    path = quote(normalize_url_path(request.raw_path.decode("latin-1")).encode("latin-1"), "/~")
    lines = [request.method.upper(), path, _canonical_query(request.raw_query)]
    headers = request.headers
    lines += [f"{n}:{' '.join(headers.get(n, '').split())}" for n in signature.signed_headers]
    payload = payload_hash or _payload_hash(request)
    lines += ["", ";".join(signature.signed_headers), payload]
    return "\n".join(lines)


def _canonical_query(raw: bytes) -> str:
    if not raw:
        return ""
    pairs = []
    for item in raw.decode("latin-1").split("&"):
        key, _, value = item.partition("=")
        if key == "X-Amz-Signature":
            continue
        pairs.append((quote(unquote_to_bytes(key), "-_.~"), quote(unquote_to_bytes(value), "-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _payload_hash(request: SignedRequest) -> str:
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None:
        if declared != UNSIGNED_PAYLOAD and declared != _body_hash(request):
            raise InvalidSignatureError(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        return declared
    return _body_hash(request)


def _body_hash(request: SignedRequest) -> str:
    if request.body_sha256 is not None:
        return request.body_sha256
    return hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _sign(canonical: str, signature: Signature, secret: str) -> tuple[str, str]:
    to_sign = "\n".join(
        [
            ALGORITHM,
            signature.timestamp,
            signature.scope,
            hashlib.sha256(canonical.encode("latin-1")).hexdigest(),
        ]
    )
    key = _signing_key(secret, signature.scope_date, signature.region, signature.service)
    return to_sign, hmac.new(key, to_sign.encode(), "sha256").hexdigest()


def verify(
    request: SignedRequest,
    signature: Signature,
    secret: str,
    now: float,
    *,
    time_checked: bool = False,
) -> None:
    """Accept the request signed with `secret`, or raise InvalidSignatureError
    (`time_checked`: the caller has already called check_time, before reading the body)."""
    if "host" not in signature.signed_headers:
        raise InvalidSignatureError(
            f"'Host' must be a 'SignedHeader' in the AWS Authorization. {_MISMATCH}"
        )
    if not time_checked:
        check_time(signature, now)
    canonical = canonical_request(request, signature)
    to_sign, expected = _sign(canonical, signature, secret)
    if not hmac.compare_digest(expected, signature.signature) and signature.expires is not None:
        # Presigners that cannot know the body (S3's, some SDKs') sign UNSIGNED-PAYLOAD;
        # botocore signs the body's hash, as in the header form.
        unsigned = canonical_request(request, signature, UNSIGNED_PAYLOAD)
        if hmac.compare_digest(_sign(unsigned, signature, secret)[1], signature.signature):
            return
    if not hmac.compare_digest(expected, signature.signature):
        raise InvalidSignatureError(
            f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n"
        )
