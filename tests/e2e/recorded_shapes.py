"""AWS's recorded successful answers (tests/conformance/lambda-aws-response-shapes.jsonl) and
how an answer of Ember's is compared with one: the member paths (`keys`, as the data file
lists them) and every value that is not a placeholder."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError

from tests.e2e.apicalls import ACCOUNT

JSONL = Path(__file__).resolve().parents[1] / "conformance" / "lambda-aws-response-shapes.jsonl"
# Values the recording replaced whole: any value of ours stands for them.
LITERAL_PLACEHOLDERS = frozenset(
    {"date", "datetime", "code-sha256", "log-result", "maximum-batching-window-in-seconds"}
    | {"lambda-url", "function-url"}  # FunctionUrl, replaced whole by the recording
)
# The account id the recording shows everywhere (masked): Ember's ACCOUNT stands for it.
RECORDED_ACCOUNT = "111111111111"
# Members whose content is the function's own output, not Lambda's: only their presence counts.
FUNCTION_OUTPUT = frozenset({"Payload"})
# Members AWS sends as JSON text; the recording shows them parsed.
JSON_TEXT = frozenset({"Payload", "Policy", "Statement"})


@dataclasses.dataclass(frozen=True)
class Recorded:
    key: str  # "<test>/<snapshot_key>", "#n" on the n-th repeat
    operation: str
    status: int | None  # None for paginator-merged results
    body: dict[str, Any]
    keys: tuple[str, ...]

    @property
    def test(self) -> str:
        return self.key.split("/", 1)[0]


@functools.cache
def load() -> tuple[Recorded, ...]:
    rows: list[Recorded] = []
    seen: dict[str, int] = {}
    with JSONL.open() as f:
        for line in f:
            doc = json.loads(line)
            key = f"{doc['test']}/{doc['snapshot_key']}"
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key += f"#{seen[key]}"
            rows.append(
                Recorded(key, doc["operation"], doc["http_status"], doc["body"], tuple(doc["keys"]))
            )
    return tuple(rows)


@functools.cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("lambda")


def readable(operation: str, answer: Mapping[str, Any]) -> dict[str, Any]:
    """A boto3 answer as the recording shows one: no ResponseMetadata, JSON text parsed."""
    doc = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    for member in JSON_TEXT & set(doc):
        value = doc[member]
        if hasattr(value, "read"):
            value = value.read()
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str) and value:
            with contextlib.suppress(json.JSONDecodeError):  # not JSON: shown as text
                value = json.loads(value)
        doc[member] = value
    return doc


def member_paths(operation: str, doc: Mapping[str, Any]) -> set[str]:
    """Dotted member paths of `doc`, walked along the operation's output shape: structures
    open up, list items are `[]`, maps and JSON text stay whole (the data file's `keys`)."""
    return _paths(doc, _model().operation_model(operation).output_shape, "")


def _paths(value: Any, shape: Any, path: str) -> set[str]:
    found: set[str] = set()
    if shape is None:
        return found
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                child = f"{path}.{name}" if path else name
                found.add(child)
                found |= _paths(value[name], member, child)
    elif shape.type_name == "list" and isinstance(value, list):
        for item in value:
            found |= _paths(item, shape.member, f"{path}[]")
    return found


def is_placeholder(recorded: Any) -> bool:
    return isinstance(recorded, str) and (recorded in LITERAL_PLACEHOLDERS or "<" in recorded)


@functools.cache
def _pattern(recorded: str) -> re.Pattern[str]:
    """`arn:<partition>:lambda:<region>:111111111111:function:<function-name:1>` as a regex
    that any concrete value of ours matches (the recording's account is ours)."""
    if recorded in LITERAL_PLACEHOLDERS:
        return re.compile(".*", re.DOTALL)
    # Placeholders may nest: `<<code-sha-256>:1>`.
    parts = re.split(r"(<<[^<>]+>:\d+>|<[^<>]+>)", recorded)
    regex = "".join(
        ".+?" if part.startswith("<") and part.endswith(">") else re.escape(part) for part in parts
    )
    return re.compile(regex.replace(RECORDED_ACCOUNT, ACCOUNT), re.DOTALL)


def value_differences(ours: Any, recorded: Any, path: str = "") -> list[str]:
    """Where a value of ours differs from a recorded one that is not a placeholder (members
    missing on one side are the keys' business)."""
    if path.split(".")[0].removesuffix("[]") in FUNCTION_OUTPUT:
        return []
    if is_placeholder(recorded):
        text = ours if isinstance(ours, str) else str(ours)
        if _pattern(recorded).fullmatch(text) is None:
            return [f"{path}: {ours!r} does not match {recorded!r}"]
        return []
    if isinstance(recorded, Mapping) and isinstance(ours, Mapping):
        found: list[str] = []
        for name, value in recorded.items():
            if name in ours:
                found += value_differences(ours[name], value, f"{path}.{name}" if path else name)
        return found
    if isinstance(recorded, list) and isinstance(ours, list):
        if len(recorded) != len(ours):
            return [f"{path}: {len(ours)} items, AWS {len(recorded)}: {ours!r} / {recorded!r}"]
        found = []
        for mine, theirs in zip(ours, recorded, strict=True):
            found += value_differences(mine, theirs, f"{path}[]")
        return found
    if recorded == RECORDED_ACCOUNT:  # a bare account id (AWS:SourceAccount)
        recorded = ACCOUNT
    if ours != recorded or type(ours) is not type(recorded):
        return [f"{path}: {ours!r} != AWS {recorded!r}"]
    return []


# Where a function's configuration sits in each answer (GetFunction nests it, lists repeat it).
_CONFIG_PREFIXES = ("Configuration.", "Versions[].", "Functions[].")


def masked(path: str, members: Iterable[str]) -> bool:
    """Whether `path` is one of `members` or lies under one, wherever the configuration
    sits in the answer."""
    bare = path
    for prefix in _CONFIG_PREFIXES:
        if path.startswith(prefix):
            bare = path.removeprefix(prefix)
    return any(
        candidate == member or candidate.startswith(member + ".")
        for member in members
        for candidate in (path, bare)
    )


def strip(doc: Any, members: Iterable[str], path: str = "") -> Any:
    """`doc` without the members a difference excludes from the value comparison."""
    members = tuple(members)
    if isinstance(doc, Mapping):
        kept = {}
        for name, value in doc.items():
            child = f"{path}.{name}" if path else name
            if not masked(child, members):
                kept[name] = strip(value, members, child)
        return kept
    if isinstance(doc, list):
        return [strip(item, members, f"{path}[]") for item in doc]
    return doc


# -- which operations Ember has -------------------------------------------------------------


def _dummy(shape: Any) -> Any:
    """A placeholder input value of the shape's type (the probe needs only the route)."""
    kind = shape.type_name
    return {
        "string": "x",
        "integer": 1,
        "long": 1,
        "boolean": False,
        "blob": b"x",
        "list": [],
        "map": {},
        "structure": {},
        "timestamp": 0,
    }.get(kind, "x")


def answers_unknown_operation(lax: Any, operation: str) -> bool:
    """Whether Ember answers `operation` (with placeholder input) UnknownOperationException."""
    model = lax.meta.service_model.operation_model(operation)
    shape = model.input_shape
    params = {name: _dummy(shape.members[name]) for name in (shape.required_members or [])}
    method = lax.meta.method_to_api_mapping
    call = next(m for m, op in method.items() if op == operation)
    try:
        getattr(lax, call)(**params)
    except ClientError as exc:
        return bool(exc.response["Error"]["Code"] == "UnknownOperationException")
    except ParamValidationError:
        return False
    return False
