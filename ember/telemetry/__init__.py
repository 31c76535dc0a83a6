"""Logs (log groups and streams of every environment) and, later, metrics and traces.

Owns: the log files under the data directory and queries over them. Must never import
`api`, `control`, `invoke`, `scheduler`, `sandbox` or `runtime_api`.
"""

from ember.telemetry.logs import LogEvent, LogStore, LogStream

__all__ = ["LogEvent", "LogStore", "LogStream"]
