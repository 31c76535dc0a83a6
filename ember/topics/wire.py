"""The query protocol's two halves: reading a form-encoded request's flattened members
(`MessageAttributes.entry.1.Name`, `PublishBatchRequestEntries.member.2.Id`) and writing
SNS's XML answers."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape

NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
Form = dict[str, str]
# An answer's result element: a list of (tag, content) where content is text, a nested
# list of the same, or None (the element is left out).
Element = tuple[str, "str | list[Element] | None"]


def parse_form(body: bytes) -> Form:
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def members(form: Mapping[str, str], prefix: str) -> list[Form]:
    """`prefix.1.X`, `prefix.2.X`, … as a list of {X: value}, in index order."""
    found: dict[int, Form] = {}
    start = prefix + "."
    for key, value in form.items():
        if not key.startswith(start):
            continue
        index, _, rest = key[len(start) :].partition(".")
        if index.isdigit() and rest:
            found.setdefault(int(index), {})[rest] = value
    return [found[i] for i in sorted(found)]


def string_map(form: Mapping[str, str], prefix: str) -> dict[str, str]:
    """`prefix.entry.N.key` / `.value` pairs (Attributes)."""
    return {m["key"]: m.get("value", "") for m in members(form, f"{prefix}.entry") if "key" in m}


def message_attributes(form: Mapping[str, str], prefix: str) -> dict[str, dict[str, str]]:
    """`prefix.entry.N.Name` / `.Value.DataType` / `.Value.StringValue|BinaryValue`."""
    out: dict[str, dict[str, str]] = {}
    for member in members(form, f"{prefix}.entry"):
        name = member.get("Name")
        if name is None:
            continue
        value = {
            key.removeprefix("Value."): text
            for key, text in member.items()
            if key.startswith("Value.")
        }
        out[name] = value
    return out


def _render(elements: Iterable[Element]) -> str:
    parts: list[str] = []
    for tag, content in elements:
        if content is None:
            continue
        inner = escape(content) if isinstance(content, str) else _render(content)
        parts.append(f"<{tag}>{inner}</{tag}>")
    return "".join(parts)


def answer(action: str, result: list[Element] | None, request_id: str) -> bytes:
    """`<ActionResponse xmlns=…><ActionResult>…</ActionResult><ResponseMetadata>…`."""
    body = f'<{action}Response xmlns="{NAMESPACE}">'
    if result is not None:
        body += f"<{action}Result>{_render(result)}</{action}Result>"
    body += (
        f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return body.encode()


def entries(values: Mapping[str, str]) -> list[Element]:
    """A string map as `<entry><key/><value/></entry>` elements."""
    return [("entry", [("key", k), ("value", v)]) for k, v in values.items()]
