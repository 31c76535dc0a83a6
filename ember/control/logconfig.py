"""A function's LoggingConfig: what CreateFunction and UpdateFunctionConfiguration take, the
rules Lambda applies to it, and what GetFunctionConfiguration shows.

Stored as the LoggingConfig document without its defaults: {} is Text into
/aws/lambda/<name>; "LogGroup" is there only when another group was chosen.
"""

from __future__ import annotations

from collections.abc import Mapping

from ember.errors import InvalidParameterValueError

TEXT = "Text"
JSON = "JSON"
_LEVELS = ("ApplicationLogLevel", "SystemLogLevel")
_TEXT_WITH_LEVEL = (
    'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
    'request or change the LogFormat to "JSON" and try again.'
)


def resolve(old: Mapping[str, str], given: Mapping[str, str], function_name: str) -> dict[str, str]:
    """The stored LoggingConfig after a create (`old` empty) or an update: members not given
    keep their value; switching to JSON sets both levels to INFO where none is given;
    switching back to Text drops them; a level with Text is refused."""
    if given.get("LogFormat", old.get("LogFormat", TEXT)) == TEXT and any(
        level in given for level in _LEVELS
    ):
        raise InvalidParameterValueError(_TEXT_WITH_LEVEL)
    merged = {**old, **{key: value for key, value in given.items() if value is not None}}
    if merged.get("LogFormat", TEXT) == JSON:
        for level in _LEVELS:
            merged.setdefault(level, "INFO")
    else:
        merged.pop("LogFormat", None)
        for level in _LEVELS:
            merged.pop(level, None)
    if merged.get("LogGroup") == default_group(function_name):
        del merged["LogGroup"]
    return merged


def default_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def shown(stored: Mapping[str, str], function_name: str) -> dict[str, str]:
    """LoggingConfig as GetFunctionConfiguration answers it."""
    doc = {
        "LogFormat": stored.get("LogFormat", TEXT),
        "LogGroup": stored.get("LogGroup") or default_group(function_name),
    }
    for level in _LEVELS:
        if level in stored:
            doc[level] = stored[level]
    return doc
