"""What the console reads from a request: the period a report covers, the configuration
form's fields, and whether a request may be served (its Host) or may change something (its
Origin)."""

from __future__ import annotations

import datetime
import ipaddress
import re
import urllib.parse
from typing import Any

from starlette.requests import Request

from ember.errors import InvalidParameterValueError, LambdaError

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConsoleError(LambdaError):
    code = "ConsoleRequestException"
    status = 403
    fault = "User"


def since_of(text: str, now: float) -> float:
    """`month` (the current UTC month, as Lambda bills), `90s`/`30m`/`2h`/`7d`, an ISO date
    or time, or epoch seconds -> epoch seconds."""
    text = text.strip().lower()
    if text in ("", "month"):
        today = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
        return today.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    found = _SPAN.match(text)
    if found:
        return now - float(found.group(1)) * _SECONDS[found.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameterValueError(
            f"since {text!r}: use month, 90s, 30m, 2h, 7d, an ISO date or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def host_name(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"host":
            text = value.decode("latin-1").lower()
            if text.startswith("["):  # [::1]:9001
                return text[1 : text.find("]")]
            return text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    return ""


def browsable(host: str, listening: str) -> bool:
    """The console answers to an address, `localhost` or the name it was told to listen on."""
    if host in ("localhost", listening.lower()):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def configuration_fields(form: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, field in (("memory", "memory_size"), ("timeout", "timeout")):
        text = form.get(key, "").strip()
        if text:
            try:
                fields[field] = int(text)
            except ValueError:
                raise InvalidParameterValueError(f"{key}: a whole number") from None
    if "environment" in form:
        variables: dict[str, str] = {}
        for number, line in enumerate(form["environment"].splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InvalidParameterValueError(f"Environment line {number}: write NAME=value")
            variables[key.strip()] = value
        fields["environment"] = variables
        fields["environment_given"] = True
    return fields


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request sent by another site's page."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser: it is not tricked into sending this
        return
    host = request.headers.get("host", "")
    if urllib.parse.urlsplit(origin).netloc != host:
        raise ConsoleError("The console accepts changes only from its own pages")


async def read_form(request: Request, body: bytes | None = None) -> dict[str, str]:
    raw = body if body is not None else await request.body()
    parsed = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}
