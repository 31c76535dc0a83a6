"""Inline SVG charts of one-minute series (no script, no external files): a bar per minute,
with a text summary for screen readers."""

from __future__ import annotations

from ember.console.html import Html, e

WIDTH, HEIGHT, PAD = 360, 120, 24


def bars(title: str, values: list[float | None], unit: str = "", *, summed: bool = True) -> Html:
    """`values`: one per minute, oldest first (None: no point that minute); `summed`: the
    values add up (counts), so the summary gives their total."""
    known = [v for v in values if v is not None]
    top = max(known, default=0.0) or 1.0
    step = (WIDTH - PAD) / max(1, len(values))
    shapes = []
    for i, value in enumerate(values):
        if not value:
            continue
        h = (HEIGHT - PAD) * value / top
        x = PAD + i * step
        shapes.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - PAD / 2 - h:.1f}" width="{max(1.0, step - 1):.1f}" '
            f'height="{h:.1f}" fill="#0b57d0"><title>{value:g}{e(unit)}</title></rect>'
        )
    total = f", total {sum(known):g}{unit}" if summed else ""
    summary = (
        f"{title}: peak {max(known):g}{unit}{total} over {len(values)} minutes"
        if known
        else f"{title}: no data in the last {len(values)} minutes"
    )
    svg = (
        f'<svg role="img" aria-label="{e(summary)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="2" y="12" font-size="10" fill="#57606a">{top:g}{e(unit)}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD / 2}" x2="{WIDTH}" y2="{HEIGHT - PAD / 2}" '
        f'stroke="#d0d7de"/>{"".join(shapes)}</svg>'
    )
    return Html(
        f'<figure class="chart"><figcaption>{e(title)}</figcaption>{svg}'
        f'<p class="muted">{e(summary)}</p></figure>'
    )
