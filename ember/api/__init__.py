"""The HTTP edge: Lambda's REST API 2015-03-31 (and CloudWatch Logs' reads) in AWS's shapes.

Owns: routing, parsing and checking requests against botocore's Lambda model, rendering
records and errors on the wire. A route parses, calls one domain method, renders.
PascalCase exists here and nowhere else on the server side. Must never import
`scheduler`, `sandbox` or `runtime_api` directly.
"""

from ember.api.app import EmberApp

__all__ = ["EmberApp"]
