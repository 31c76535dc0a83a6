"""The one error a bad pattern raises, in EventBridge's words."""

from __future__ import annotations

from ember.errors import LambdaError


class InvalidEventPatternError(LambdaError):
    """EventBridge's InvalidEventPatternException (400). `reason` is the bare cause, for
    services that word the refusal their own way (SNS, Lambda's FilterCriteria)."""

    code = "InvalidEventPatternException"
    status = 400
    fault = "User"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason
