"""What the commands print besides their results: the error line and aligned tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import click


def fail(message: str) -> NoReturn:
    """Say what went wrong on stderr and exit 1 (every command's failure exit)."""
    click.echo(f"ember: {message}", err=True)
    sys.exit(1)


def table(rows: Sequence[tuple[str, ...]]) -> None:
    """Print rows as left-aligned columns, the first row being the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
