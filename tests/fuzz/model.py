"""Requests generated from botocore's Lambda model: each operation's members, with the right
type or a wrong one, missing or extra, huge or unicode, in bodies that may not be JSON."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from botocore.loaders import Loader
from hypothesis import strategies as st

from tests.e2e.harness import ROLE, make_zip

MODEL: dict[str, Any] = Loader().load_service_model("lambda", "service-2")
SHAPES: dict[str, Any] = MODEL["shapes"]

FUNCTION = "fuzz-fn"  # exists for the whole run (the fixture makes it)
GONE = "fuzz-gone"  # never exists: what DELETE operations aim at, so the fixture stays
LAYER = "fuzz-layer"  # version 1 exists
ALIAS = "live"  # an alias of FUNCTION
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000"
ZIP_B64 = base64.b64encode(
    make_zip({"app.py": "def handler(event, context):\n    return event\n"})
).decode()

# Valid values of members by name: the base each generated request starts from.
KNOWN: dict[str, Any] = {
    "FunctionName": FUNCTION,
    "Role": ROLE,
    "Runtime": "python3.11",
    "Handler": "app.handler",
    "Code": {"ZipFile": ZIP_B64},
    "Content": {"ZipFile": ZIP_B64},
    "ZipFile": ZIP_B64,
    "Name": ALIAS,
    "FunctionVersion": "$LATEST",
    "LayerName": LAYER,
    "VersionNumber": 1,
    "StatementId": "fuzz-statement",
    "Action": "lambda:InvokeFunction",
    "Principal": "s3.amazonaws.com",
    "ReservedConcurrentExecutions": 5,
    "ProvisionedConcurrentExecutions": 1,
    "Qualifier": ALIAS,
    "Resource": f"{ACCOUNT_ARN}:function:{FUNCTION}",
    "Arn": f"{ACCOUNT_ARN}:layer:{LAYER}:1",
    "Tags": {"fuzz": "yes"},
    "TagKeys": ["fuzz"],
    "MaximumRetryAttempts": 1,
    "Description": "fuzzed",
    "Timeout": 3,
    "MemorySize": 128,
}

_PARAM = re.compile(r"\{(\w+)\+?\}")


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str  # template with {Member} placeholders
    fixed_query: str  # e.g. "List=ALL", part of the operation's URI
    members: dict[str, Any]  # member name -> its reference in the input shape
    required: tuple[str, ...]
    payload: str | None  # the member that is the whole body, if any

    def base_path(self) -> str:
        return self.path_with({})

    def path_with(self, params: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in params:
                return params[name]
            value = GONE if self.method == "DELETE" and name == "FunctionName" else KNOWN.get(name)
            return urllib.parse.quote(str(value if value is not None else "x"), safe="")

        return _PARAM.sub(fill, self.path)


def operations() -> list[Operation]:
    found = []
    for name, op in sorted(MODEL["operations"].items()):
        path, _, fixed = op["http"]["requestUri"].partition("?")
        shape = SHAPES[op["input"]["shape"]] if "input" in op else {"members": {}}
        found.append(
            Operation(
                name,
                op["http"]["method"],
                path,
                fixed,
                shape["members"],
                tuple(shape.get("required", ())),
                shape.get("payload"),
            )
        )
    return found


# -- values ---------------------------------------------------------------------------

# Strings that have broken parsers and renderers elsewhere.
_NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\r\n",
        "../../etc/passwd",
        "%00",
        "%",
        "$LATEST",
        "arn:aws:lambda:us-east-1:000000000000:function:fuzz-fn:live",
        "\u202e\u0000\uffff",
        "\ud800",
        "😀" * 64,
        "a" * 64,
        "a" * 65,
        "a" * 141,
        "1e400",
        "-1",
        "null",
        "{}",
    ]
)
HUGE = st.sampled_from([10_000, 100_000, 300_000]).flatmap(
    lambda n: st.sampled_from(["a" * n, "é" * n, "😀" * (n // 4), "\x00" * n])
)
TEXT = st.one_of(st.text(max_size=40), _NASTY_TEXT, HUGE)
# In a URL: bounded, as every front door bounds a request line (AWS's included).
SHORT_TEXT = st.one_of(st.text(max_size=40), _NASTY_TEXT, st.just("a" * 2000))

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def typed(shape_name: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value of the member's JSON type (not necessarily within its constraints)."""
    spec = SHAPES[shape_name]
    kind = spec["type"]
    if kind == "string":
        enum = spec.get("enum")
        return st.one_of(st.sampled_from(enum), TEXT) if enum else TEXT
    if kind in ("integer", "long"):
        return st.one_of(st.integers(-(2**63), 2**63), st.integers())
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.one_of(st.integers(0, 2**40), st.text(max_size=30))
    if kind == "blob":
        return st.one_of(st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()), TEXT)
    if depth >= 3:
        return st.none()
    if kind == "list":
        return st.lists(member_value(spec["member"]["shape"], depth + 1), max_size=4)
    if kind == "map":
        return st.dictionaries(
            typed(spec["key"]["shape"], depth + 1),  # JSON keys are strings
            member_value(spec["value"]["shape"], depth + 1),
            max_size=3,
        )
    members = spec["members"]
    return st.fixed_dictionaries(
        {},
        optional={name: member_value(ref["shape"], depth + 1) for name, ref in members.items()},
    )


def member_value(shape_name: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly the right type, sometimes any JSON at all."""
    return st.one_of(typed(shape_name, depth), typed(shape_name, depth), ANY_JSON)


def body_members(op: Operation) -> dict[str, Any]:
    return {
        name: ref
        for name, ref in op.members.items()
        if "location" not in ref and name != op.payload
    }


class Fuzzed:
    """One generated request."""

    __slots__ = ("body", "headers", "method", "path")

    def __init__(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.body = body
        self.headers = headers

    def __repr__(self) -> str:  # short enough to read in a failure
        body = self.body if len(self.body) < 300 else self.body[:300] + b"..."
        return f"{self.method} {self.path[:300]} {body!r} {self.headers}"


def _short(value: str) -> bool:
    return len(value) <= 2000


def _path_value(value: str) -> str:
    return urllib.parse.quote(value, safe="")


PATH_TEXT = st.one_of(
    SHORT_TEXT.map(lambda t: _path_value(t.encode("utf-8", "surrogatepass").decode("latin-1"))),
    st.sampled_from(["%ff", "%c0%af", "..", "%2e%2e", "a/b", "%2F", "", "%00", "~", "%25"]),
)
HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    st.sampled_from(["RequestResponse", "Event", "DryRun", "Tail", "None", "e30=", "!!"]),
)


def _encode(document: Any, how: str) -> bytes:
    if how == "ascii":
        return json.dumps(document, ensure_ascii=True).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


BROKEN_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [b"{", b"[", b"[]", b"1", b'"x"', b"null", b'{"a":}', b"\xff\xfe", b"[" * 100_000]
    ),
    ANY_JSON.map(lambda v: json.dumps(v).encode()[:-1]),  # truncated
)


@st.composite
def requests(draw: st.DrawFn, op: Operation) -> Fuzzed:
    """A request for `op`: valid-looking at its base, with members changed, dropped, added,
    or a body that is not the JSON object the operation takes."""
    params: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for name, ref in op.members.items():
        location = ref.get("location")
        wire_name = ref.get("locationName", name)
        if location == "uri" and draw(st.integers(0, 3)) == 0:
            params[wire_name] = draw(PATH_TEXT)
        elif location == "querystring" and draw(st.booleans()):
            value = draw(st.one_of(typed(ref["shape"]).map(str).filter(_short), SHORT_TEXT))
            query.append((wire_name, value))
        elif location == "header" and draw(st.booleans()):
            headers[wire_name] = draw(HEADER_TEXT)
    if draw(st.integers(0, 5)) == 0:  # a query member the operation does not have
        query.append((draw(st.text(min_size=1, max_size=10)), draw(SHORT_TEXT)))
    path = op.path_with(params)
    encoded_query = "&".join(
        f"{urllib.parse.quote(k.encode('utf-8', 'surrogatepass'), safe='')}="
        f"{urllib.parse.quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
        for k, v in query
    )
    fixed = "&".join(part for part in (op.fixed_query, encoded_query) if part)
    if fixed:
        path += "?" + fixed

    body = b""
    if op.payload is not None:
        body = draw(st.one_of(ANY_JSON.map(lambda v: _encode(v, "ascii")), BROKEN_BODIES))
    elif op.method in ("POST", "PUT"):
        members = body_members(op)
        document = {name: KNOWN[name] for name in members if name in KNOWN}
        changed = draw(
            st.fixed_dictionaries(
                {}, optional={name: member_value(ref["shape"]) for name, ref in members.items()}
            )
        )
        document.update(changed)
        for name in draw(st.lists(st.sampled_from(sorted(members) or ["_"]), max_size=2)):
            document.pop(name, None)  # missing members, required ones too
        document.update(
            draw(st.dictionaries(st.text(min_size=1, max_size=12), ANY_JSON, max_size=2))
        )
        how = draw(st.sampled_from(["ascii", "utf8", "broken", "object"]))
        if how == "broken":
            body = draw(BROKEN_BODIES)
        elif how == "object":
            body = _encode(document, "ascii")
        else:
            body = _encode(document, how)
    return Fuzzed(op.method, path, body, headers)
