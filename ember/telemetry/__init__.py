"""Logs (log groups and streams of every environment, the lines Lambda writes around a
function's output), per-function metrics (one-minute points in metrics.db, served as
CloudWatch's GetMetricStatistics/GetMetricData/ListMetrics and Prometheus's /metrics) and
traces.

Owns: log groups and streams and queries over them (their files through `store`), cutting
a process's output into log lines, the START/END/REPORT lines and their JSON records
(`platform`), ApplicationLogLevel filtering (`appfilter`), X-Ray trace headers (`traces`)
and the OTLP exporter (`otlp`, imported only when `--otlp-endpoint` is given). Must never
import `api`, `control`, `invoke`, `scheduler`, `sandbox` or `runtime_api`.
"""

from ember.telemetry.logs import DEFAULT_LIMIT, LogStore, LogStream
from ember.telemetry.metrics import Metrics, MetricsStatistics
from ember.telemetry.reading import LogEvent

__all__ = ["DEFAULT_LIMIT", "LogEvent", "LogStore", "LogStream", "Metrics", "MetricsStatistics"]
