"""A tiny templating layer: every value put into a page goes through `e()` (HTML-escaped);
`Html` marks text that is already safe markup, so nesting does not escape twice. No
template engine: the pages are few and small, and nothing is loaded at run time."""

from __future__ import annotations

import html
from collections.abc import Iterable


class Html(str):
    """Markup that is safe as it is."""


def e(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[str]) -> Html:
    return Html("".join(e(p) for p in parts))


def tag(name: str, body: object = "", **attrs: object) -> Html:
    """<name attrs>body</name>; attribute names: trailing "_" dropped, "_" -> "-"."""
    rendered = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{e(v)}"' if v is not True else f" {k.rstrip('_')}"
        for k, v in attrs.items()
        if v is not None and v is not False
    )
    return Html(f"<{name}{rendered}>{e(body)}</{name}>")


def table(
    headers: Iterable[str], rows: Iterable[Iterable[object]], numeric: set[int] | None = None
) -> Html:
    numeric = numeric or set()
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{e(c)}</td>' if i in numeric else f"<td>{e(c)}</td>"
            for i, c in enumerate(row)
        ) + "</tr>"
        for row in rows
    )  # fmt: skip
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def page(title: str, body: Html, *, script: bool = False) -> str:
    js = '<script src="/console/static/console.js" defer></script>' if script else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)} · Ember</title>"
        f'<link rel="icon" href="data:,"><link rel="stylesheet" href="/console/static/console.css">'
        f"{js}</head><body>"
        f'<a class="skip" href="#main">Skip to content</a>'
        f'<header><strong>Ember</strong><nav aria-label="Console">'
        f'<a href="/console/">Functions</a><a href="/console/cost">Cost</a></nav></header>'
        f'<main id="main"><h1>{e(title)}</h1>{body}</main></body></html>'
    )
