"""Invocation: the synchronous path, and asynchronous events (durable queue, dispatcher,
retries, dead letters, destinations); event source mappings and schedules as they arrive.

Owns: turning "invoke this name with this payload" into a scheduled execution of the
right function version. Must never import `api`.
"""

from ember.invoke.sync import Invoker

__all__ = ["Invoker"]
