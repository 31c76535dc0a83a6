"""API Gateway HTTP APIs (apigatewayv2 2018-11-29): the resource model (APIs, routes,
integrations, stages, deployments, authorizers), its REST-JSON management door under
/v2/, and the door that serves `<api-id>.execute-api.<domain>` requests through a stage's
deployed routes to Lambda integrations (payload formats 1.0 and 2.0).

Modules: errors (apigatewayv2's error shapes), wire (botocore's model: camelCase on the
wire, PascalCase documents inside), routekeys (route keys and matching), checks (each
resource's rules), state (one API as one durable document), service (`HttpApis`: every
operation), management (the /v2/ door), events (payload format 1.0), serving (the
execute-api door).

Uses `control` (function ARNs), gateway.payload (format 2.0), gateway.cors and the
authorizers' model; the metadata store, the invoker, resource policies, authorizers and
the SigV4 signer come in through small Protocols (never `api`, `store` or `server`).
"""

from ember.gateway.apis.management import ManagementDoor
from ember.gateway.apis.service import HttpApis
from ember.gateway.apis.serving import ApiDoor

__all__ = ["ApiDoor", "HttpApis", "ManagementDoor"]
