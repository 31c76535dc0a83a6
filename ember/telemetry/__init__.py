"""Logs (log groups and streams of every environment), per-function metrics and, later,
traces.

Owns: the log files under the data directory and queries over them. Must never import
`api`, `control`, `invoke`, `scheduler`, `sandbox` or `runtime_api`.
"""

from ember.telemetry.logs import LogEvent, LogStore, LogStream
from ember.telemetry.metrics import Metrics, MetricsStatistics

__all__ = ["LogEvent", "LogStore", "LogStream", "Metrics", "MetricsStatistics"]
