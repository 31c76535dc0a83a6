"""Routes for a function's resource-based policy: AddPermission, RemovePermission, GetPolicy."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control.policies import Permission, PolicyService


class PolicyRoutes:
    def __init__(self, references: References, policies: PolicyService) -> None:
        self._refs = references
        self._policies = policies

    def routes(self) -> list[Route]:
        path = "/2015-03-31/functions/{FunctionName}/policy"
        return [
            Route(path, self.add, methods=["POST"]),
            Route(path, self.get, methods=["GET"]),
            Route(path + "/{StatementId}", self.remove, methods=["DELETE"]),
        ]

    async def add(self, request: Request) -> Response:
        values = await read_input(request, "AddPermission")
        name, qualifier = self._refs.parse(values, "AddPermission")
        permission = Permission(
            statement_id=values["StatementId"],
            action=values["Action"],
            principal=values["Principal"],
            source_arn=values.get("SourceArn"),
            source_account=values.get("SourceAccount"),
            principal_org_id=values.get("PrincipalOrgID"),
            event_source_token=values.get("EventSourceToken"),
            function_url_auth_type=values.get("FunctionUrlAuthType"),
            invoked_via_function_url=values.get("InvokedViaFunctionUrl"),
        )
        statement = await self._policies.add(name, qualifier, permission, values.get("RevisionId"))
        # AWS answers the statement as JSON text.
        text = json.dumps(statement, separators=(",", ":"))
        return json_response({"Statement": text}, status=201)

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetPolicy")
        name, qualifier = self._refs.parse(values, "GetPolicy")
        policy = self._policies.get(name, qualifier)
        return json_response({"Policy": policy.document(), "RevisionId": policy.revision_id})

    async def remove(self, request: Request) -> Response:
        values = await read_input(request, "RemovePermission")
        name, qualifier = self._refs.parse(values, "RemovePermission")
        await self._policies.remove(
            name, qualifier, values["StatementId"], values.get("RevisionId")
        )
        return Response(status_code=204)
