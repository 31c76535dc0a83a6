"""Marker/MaxItems paging, as Lambda's List* operations page (markers are opaque)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from ember.errors import InvalidParameterValueError

PAGE = 50  # Lambda returns at most 50 items a page, whatever MaxItems asks
T = TypeVar("T")


def page(items: list[T], values: dict[str, Any]) -> tuple[list[T], str | None]:
    """One page of `items` for the request's Marker/MaxItems, and the next marker."""
    start = 0
    marker = values.get("Marker")
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
        except (ValueError, binascii.Error):
            raise InvalidParameterValueError("Invalid pagination token") from None
    size = min(values.get("MaxItems") or PAGE, PAGE)
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None
