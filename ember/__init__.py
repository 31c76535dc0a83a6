"""Ember: a self-hosted, AWS Lambda-compatible function platform.

Read DESIGN.md for the picture: api -> control / invoke -> scheduler -> sandbox ->
runtime_api, with store and telemetry underneath and the CLI on top.
"""

__version__ = "0.1.0"
