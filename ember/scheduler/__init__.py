"""Pools of execution environments per function: cold and warm starts, reuse, reaping.

Owns: which environment serves an invocation, starting one (Init) when none is idle,
returning it warm afterwards, destroying it after a timeout or crash, and shutting
down idle ones; for SnapStart versions, keeping an environment past Init ready to
restore. Must never import `api`, `control` or `invoke`; it is handed the function's
configuration.
"""

from ember.runtime_api.streaming import ResponseStream
from ember.scheduler.concurrency import Reservations
from ember.scheduler.pool import Scheduler
from ember.scheduler.results import InvocationResult, InvokeRequest

__all__ = ["InvocationResult", "InvokeRequest", "Reservations", "ResponseStream", "Scheduler"]
