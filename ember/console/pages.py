"""The console's pages as HTML, from data the routes gathered (no I/O here): the functions
list, a function's page, the cost page, an error page."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Sequence

from ember.console.charts import bars
from ember.console.cost import CostReport
from ember.console.html import Html, e, page, table, tag
from ember.control.aliases import AliasConfig
from ember.control.mappings import Mapping
from ember.control.model import FunctionConfig
from ember.telemetry import LogEvent


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One line of the functions list."""

    config: FunctionConfig
    last_invoked: float | None  # epoch seconds of its newest log line
    invocations: int  # last 24 hours
    errors: int


@dataclasses.dataclass(frozen=True, slots=True)
class Charts:
    """One value per minute, oldest first (None: no point)."""

    invocations: list[float | None]
    errors: list[float | None]
    p50: list[float | None]
    p99: list[float | None]
    concurrency: list[float | None]


@dataclasses.dataclass(frozen=True, slots=True)
class AsyncState:
    depth: int
    in_flight: int
    oldest_age: float | None
    counters: dict[str, int]  # AsyncEventsReceived, AsyncEventsDropped, DeadLetterErrors, ...


@dataclasses.dataclass(frozen=True, slots=True)
class Invoked:
    """A test invocation's result, for the page rendered after a form post without script."""

    executed_version: str
    function_error: str | None
    qualifier: str  # as chosen ("" for $LATEST)
    payload: str
    log_tail: str


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionPage:
    config: FunctionConfig
    versions: Sequence[FunctionConfig]
    aliases: Sequence[AliasConfig]
    urls: Sequence[tuple[str, str, str]]  # (url, qualifier, auth type)
    mappings: Sequence[Mapping]
    async_state: AsyncState
    charts: Charts
    logs: Sequence[LogEvent]
    message: str = ""
    error: str = ""
    invoked: Invoked | None = None
    payload: str = '{"hello": "world"}'


def when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def functions_list(rows: Sequence[Row]) -> str:
    if not rows:
        body = Html(
            "<p>No functions yet. Create one with <code>ember deploy</code>, "
            "<code>aws lambda create-function</code> or boto3.</p>"
        )
        return page("Functions", body)
    body = table(
        ["Function", "State", "Runtime", "Memory (MB)", "Last invoked", "Invocations 24 h",
         "Errors 24 h"],
        [
            [
                tag("a", r.config.name, href=f"/console/functions/{r.config.name}"),
                r.config.state.value, r.config.runtime or r.config.package_type,
                r.config.memory_size, when(r.last_invoked), r.invocations,
                tag("span", r.errors, class_="bad") if r.errors else 0,
            ]
            for r in rows
        ],
        numeric={3, 5, 6},
    )  # fmt: skip
    return page("Functions", Html(f"<section aria-label='Functions'>{body}</section>"))


def function_page(p: FunctionPage) -> str:
    c = p.config
    parts: list[str] = []
    if p.message:
        parts.append(tag("p", p.message, class_="note", role="status"))
    if p.error:
        parts.append(tag("p", p.error, class_="bad", role="alert"))
    parts.append(
        table(
            ["State", "Runtime", "Handler", "Architecture", "Last modified", "ARN"],
            [
                [
                    f"{c.state.value} {c.state_reason}".strip(),
                    c.runtime or c.package_type,
                    c.handler,
                    ", ".join(c.architectures),
                    c.last_modified,
                    c.arn,
                ]
            ],
        )
    )
    parts.append(_configuration(c))
    parts.append(_invoke(c, p))
    parts.append(_section("Metrics (last hour, per minute)", _charts(p.charts)))
    parts.append(_section("Versions and aliases", _versions(p.versions, p.aliases)))
    parts.append(_section("Asynchronous invocation", _async(c, p.async_state)))
    parts.append(_section("Function URLs and event source mappings", _sources(p)))
    parts.append(_logs(c, p.logs))
    parts.append(
        tag("p", tag("a", "Cost of this function", href=f"/console/cost?function={c.name}"))
    )
    return page(c.name, Html("".join(parts)), script=True)


def _section(title: str, body: str) -> Html:
    return Html(f"<section><h2>{e(title)}</h2>{body}</section>")


def _configuration(c: FunctionConfig) -> Html:
    environment = "\n".join(f"{k}={v}" for k, v in sorted(c.environment.items()))
    form = (
        f'<form method="post" action="/console/functions/{e(c.name)}/configuration">'
        f'<input type="hidden" name="revision" value="{e(c.revision_id)}">'
        f'<label for="memory">Memory (MB, 128 to 10240)</label>'
        f'<input id="memory" name="memory" type="number" min="128" max="10240" required '
        f'value="{c.memory_size}">'
        f'<label for="timeout">Timeout (seconds, 1 to 900)</label>'
        f'<input id="timeout" name="timeout" type="number" min="1" max="900" required '
        f'value="{c.timeout}">'
        f'<label for="environment">Environment variables (one NAME=value a line)</label>'
        f'<textarea id="environment" name="environment" rows="4">{e(environment)}</textarea>'
        f'<button type="submit">Save configuration</button></form>'
    )
    return _section("Configuration", form)


def _invoke(c: FunctionConfig, p: FunctionPage) -> Html:
    result = p.invoked
    status = ""
    if result is not None:
        status = (
            f"Failed ({result.function_error}) on version {result.executed_version}"
            if result.function_error
            else f"Succeeded on version {result.executed_version}"
        )
    form = (
        f'<form id="invoke-form" method="post" action="/console/functions/{e(c.name)}/invoke">'
        f'<label for="qualifier">Version or alias</label>'
        f'<select id="qualifier" name="qualifier">{_qualifiers(p)}</select>'
        f'<label for="payload">Event (JSON)</label>'
        f'<textarea id="payload" name="payload" rows="5">{e(p.payload)}</textarea>'
        f'<button type="submit">Invoke</button></form>'
        f'<p id="invoke-status" role="status" aria-live="polite" '
        f'class="{"bad" if result and result.function_error else "ok"}">{e(status)}</p>'
        f'<h3>Result</h3><pre id="invoke-result">{e(result.payload if result else "")}</pre>'
        f'<h3>Log tail</h3><pre id="invoke-log">{e(result.log_tail if result else "")}</pre>'
    )
    return _section("Test invoke", form)


def _qualifiers(p: FunctionPage) -> str:
    chosen = p.invoked.qualifier if p.invoked else ""
    options = [("", "$LATEST")]
    options += [(v.version, f"version {v.version}") for v in p.versions if v.version != "$LATEST"]
    options += [(a.name, f"alias {a.name}") for a in p.aliases]
    return "".join(
        f'<option value="{e(value)}"{" selected" if value == chosen else ""}>{e(label)}</option>'
        for value, label in options
    )


def _charts(ch: Charts) -> Html:
    return Html(
        '<div class="charts">'
        + bars("Invocations", ch.invocations)
        + bars("Errors", ch.errors)
        + bars("Duration p50", ch.p50, " ms", summed=False)
        + bars("Duration p99", ch.p99, " ms", summed=False)
        + bars("Concurrent executions", ch.concurrency, summed=False)
        + "</div>"
    )


def _versions(versions: Sequence[FunctionConfig], aliases: Sequence[AliasConfig]) -> Html:
    version_table = table(
        ["Version", "Description", "Memory (MB)", "Last modified"],
        [[v.version, v.description, v.memory_size, v.last_modified] for v in versions],
        numeric={2},
    )
    if not aliases:
        return Html(version_table + "<p class='muted'>No aliases.</p>")
    alias_table = table(
        ["Alias", "Version", "Weights (routing)", "Description"],
        [
            [
                a.name,
                a.function_version,
                _weights(a),
                a.description,
            ]
            for a in aliases
        ],
    )
    return Html(version_table + alias_table)


def _weights(alias: AliasConfig) -> str:
    if not alias.weights:
        return f"{alias.function_version}: 100%"
    extra = sum(alias.weights.values())
    shares = [f"{alias.function_version}: {100 * (1 - extra):g}%"]
    shares += [f"{v}: {100 * w:g}%" for v, w in sorted(alias.weights.items())]
    return ", ".join(shares)


def _async(c: FunctionConfig, a: AsyncState) -> Html:
    rows: list[list[object]] = [
        ["Events waiting", a.depth],
        ["Events being invoked", a.in_flight],
        ["Oldest event age (s)", "—" if a.oldest_age is None else f"{a.oldest_age:.1f}"],
        *([name, value] for name, value in sorted(a.counters.items())),
        ["Dead-letter target", c.dead_letter_arn or "none"],
    ]
    return table(["Queue", "Value"], rows, numeric={1})


def _sources(p: FunctionPage) -> Html:
    urls = (
        table(
            ["URL", "Qualifier", "Auth type"],
            [
                [tag("a", url, href=url), qualifier or "$LATEST", auth]
                for url, qualifier, auth in p.urls
            ],
        )
        if p.urls
        else Html("<p class='muted'>No function URL.</p>")
    )
    mappings = (
        table(
            ["Source", "State", "Batch size", "Last result", "UUID"],
            [
                [m.source_arn, m.state.value, m.batch_size, m.last_processing_result or "—", m.uuid]
                for m in p.mappings
            ],
            numeric={2},
        )
        if p.mappings
        else Html("<p class='muted'>No event source mappings.</p>")
    )
    return Html(urls + mappings)


def _logs(c: FunctionConfig, events: Sequence[LogEvent]) -> Html:
    lines = "".join(f"{when(ev.timestamp / 1000)[11:19]}  {ev.message.rstrip()}\n" for ev in events)
    return _section(
        "Logs",
        Html(
            f'<div id="live-logs" data-source="/console/api/functions/{e(c.name)}/logs">'
            f'<button type="button" id="live-log-toggle" aria-pressed="false" hidden>'
            f"Follow logs</button>"
            f'<pre id="live-log-lines" aria-live="off" tabindex="0" '
            f'aria-label="Recent log lines">{e(lines) or "No log lines in the last 15 minutes."}'
            f"</pre></div>"
        ),
    )


def cost_page(report: CostReport, function: str | None, since: str) -> str:
    doc = report.to_doc()
    form = (
        '<form method="get" action="/console/cost">'
        f'<label for="cost-function">Function (empty: all)</label>'
        f'<input id="cost-function" name="function" value="{e(function or "")}">'
        f'<label for="cost-since">Since (month, 90s, 30m, 2h, 7d)</label>'
        f'<input id="cost-since" name="since" value="{e(since)}">'
        '<button type="submit">Show</button></form>'
    )
    summary = (
        f"<p id='cost-summary'>From {e(doc['Since'])} to {e(doc['Until'])}: "
        f"<strong>{report.requests}</strong> requests, "
        f"<strong>{report.gb_seconds:.6f}</strong> GB-seconds. On AWS Lambda "
        f"({e(report.prices.region)}) this would have cost "
        f"<strong id='cost-total'>{_usd(report.total)}</strong>; with the free tier "
        f"<strong id='cost-after-free'>{_usd(report.total_after_free_tier)}</strong>.</p>"
    )
    lines = table(
        ["Function", "Item", "Quantity", "Unit", "Cost (USD)"],
        [[x.function, x.item, _quantity(x.quantity), x.unit, _usd(x.cost)] for x in report.lines],
        numeric={2, 4},
    )
    free = report.free_tier
    free_table = table(
        ["Free tier", "Used", "Allowance", "Credit (USD)"],
        [
            ["Requests", f"{free.requests:,}", f"{free.requests_allowance:,}", ""],
            [
                "Duration GB-seconds",
                f"{free.gb_seconds:,.6f}",
                f"{free.gb_seconds_allowance:,.0f}",
                "",
            ],
            ["Total", "", "", _usd(free.credit)],
        ],
        numeric={1, 2, 3},
    )
    source = (
        f"<p class='muted'>Prices: {e(report.prices.source)}, read {e(report.prices.retrieved)}. "
        "Billed duration is each invocation's duration (with an on-demand cold start's Init) "
        "rounded up to the millisecond, times the memory it ran with.</p>"
    )
    body = form + summary + _section("Charges", lines if report.lines else "<p>No usage.</p>")
    body += _section("Free tier (shown apart)", free_table) + source
    return page("Cost", Html(body))


def error_page(status: int, message: str) -> str:
    return page(f"Error {status}", tag("p", message, role="alert", class_="bad"))


def _usd(value: float) -> str:
    return f"${value:.8f}" if value < 0.01 else f"${value:,.2f}"


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6f}"


def pretty(payload: bytes) -> str:
    """A JSON payload indented for reading; anything else as text."""
    try:
        return json.dumps(json.loads(payload), indent=2)
    except ValueError:
        return payload.decode("utf-8", "replace")
