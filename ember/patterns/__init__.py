"""Event patterns: the content-filtering language of EventBridge rules, shared by SNS
filter policies and Lambda's event-source FilterCriteria.

Owns: parsing and checking a pattern (`compile`, `InvalidEventPatternError` with AWS's
reason), and matching a decoded JSON document against it (`Matcher.matches`). Knows
nothing of where documents come from: callers decode SQS bodies, build SNS attribute
documents, and translate the error into their own service's words. Imports no other
`ember` package but `errors`.
"""

from ember.patterns.compiler import compile
from ember.patterns.errors import InvalidEventPatternError
from ember.patterns.matcher import Matcher

__all__ = ["InvalidEventPatternError", "Matcher", "compile"]
