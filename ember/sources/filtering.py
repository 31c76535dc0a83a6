"""FilterCriteria: a record goes to the function when any filter's pattern matches it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ember.errors import InvalidParameterValueError
from ember.patterns import InvalidEventPatternError
from ember.patterns import compile as compile_pattern
from ember.sources.source import Record


class Matcher(Protocol):
    def matches(self, event: dict[str, Any]) -> bool: ...


CompilePattern = Callable[[str], Matcher]


def check_filter_pattern(pattern: str) -> None:
    """A FilterCriteria pattern the matcher takes, or Lambda's refusal."""
    try:
        compile_pattern(pattern)
    except InvalidEventPatternError:
        raise InvalidParameterValueError("Invalid filter pattern definition.") from None


# A record as the filters see it (Source.view).
View = Callable[[Record], dict[str, Any]]


class RecordFilter:
    def __init__(
        self, patterns: Sequence[str] | None, compile_pattern: CompilePattern, view: View
    ) -> None:
        self._matchers = [compile_pattern(p) for p in patterns or ()]
        self._view = view

    def split(self, records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        """(kept, dropped). Lambda deletes the records no filter matches from a queue."""
        if not self._matchers:
            return list(records), []
        kept: list[Record] = []
        dropped: list[Record] = []
        for record in records:
            view = self._view(record)
            if any(m.matches(view) for m in self._matchers):
                kept.append(record)
            else:
                dropped.append(record)
        return kept, dropped
