"""Faults on Ember's side: logged in full here, answered with no detail.

A client gets Lambda's ServiceException (500) with AWS's generic text and the request id
that finds the details in Ember's log; an exception's text (host paths, OS errors, bugs)
never leaves the server. Both HTTP edges use this: the Invoke fast path and the router.
"""

from __future__ import annotations

import logging

from ember.errors import LambdaError, ServiceError

log = logging.getLogger("ember.api")

# AWS's text for an InternalFailure (its common errors): it tells nothing about the cause.
INTERNAL_FAILURE = (
    "The request processing has failed because of an unknown error, exception or failure."
)


def hidden(exc: BaseException, request_id: str, what: str) -> ServiceError:
    """The ServiceException to answer for `exc`, whose detail goes to the log only."""
    log.error("internal error serving %s (request id %s)", what, request_id, exc_info=exc)
    return ServiceError(INTERNAL_FAILURE)


def public(error: LambdaError, request_id: str, what: str) -> LambdaError:
    """`error` as a client may see it: a fault on the service's side keeps its text here."""
    if error.fault == "Service":
        return hidden(error, request_id, what)
    return error
