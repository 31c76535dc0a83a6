"""`HttpApis`: every apigatewayv2 operation on HTTP APIs, and what the serving door reads
(a stage's deployed routes). Documents are PascalCase, as GetApi, GetRoute, … return them.

A change is made on a copy of the API, checked, stored, and only then swapped in: a refused
or failed request changes nothing. Stages with AutoDeploy get a new deployment whenever a
change alters what they would serve, as on AWS; other stages serve the deployment they
name until CreateDeployment or UpdateStage moves them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.gateway.apis import checks
from ember.gateway.apis.errors import BadRequestError, ConflictError, NotFoundError
from ember.gateway.apis.routekeys import Router, parse
from ember.gateway.apis.state import KIND, ApiState, Doc, Documents, new_id

T = TypeVar("T")
# What TagResource, UntagResource and GetTags may name: an API or one of its stages.
_TAGGABLE = re.compile(
    r"arn:aws[a-zA-Z-]*:apigateway:(?P<region>[a-z0-9-]+)::/apis/(?P<api>[a-z0-9]+)"
    r"(?:/stages/(?P<stage>[^/]+))?"
)
AUTO_DESCRIPTION = "Automatic deployment triggered by changes to the Api configuration"


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """A child resource of an API: where it lives in ApiState and how it is named."""

    collection: str  # ApiState attribute
    id_member: str  # "RouteId"
    id_length: int
    resource_type: str  # NotFoundException's resourceType


ROUTES = Kind("routes", "RouteId", 7, "Route")
INTEGRATIONS = Kind("integrations", "IntegrationId", 7, "Integration")
AUTHORIZERS = Kind("authorizers", "AuthorizerId", 7, "Authorizer")
STAGES = Kind("stages", "StageName", 0, "Stage")
DEPLOYMENTS = Kind("deployments", "DeploymentId", 6, "Deployment")


@dataclasses.dataclass(frozen=True, slots=True)
class Deployed:
    """What one stage serves: its deployment's routes, compiled."""

    api_id: str
    stage: str
    stage_variables: dict[str, str]
    router: Router
    routes: dict[str, Doc]
    integrations: dict[str, Doc]
    authorizers: dict[str, Doc]


class HttpApis:
    def __init__(
        self,
        documents: Documents,
        clock: Clock,
        *,
        region: str,
        account: str,
        domain: str,
        port: int,
    ) -> None:
        self._documents = documents
        self._clock = clock
        self.region = region
        self.account = account
        self.domain = domain
        self.port = port
        self._apis: dict[str, ApiState] = {}
        self._deployed: dict[tuple[str, str], Deployed | None] = {}
        self._lock = asyncio.Lock()  # one change at a time: each copies the API it changes

    async def load(self) -> None:
        for doc in (await run_blocking(self._documents.load, KIND)).values():
            state = ApiState.from_doc(doc)
            self._apis[state.api_id] = state

    def endpoint(self, api_id: str) -> str:
        return f"http://{api_id}.execute-api.{self.domain}:{self.port}"

    def _now(self) -> str:
        moment = datetime.datetime.fromtimestamp(self._clock.wall(), datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- APIs -----------------------------------------------------------------------

    def _state(self, api_id: str) -> ApiState:
        state = self._apis.get(api_id)
        if state is None:
            # AWS's words, the account included.
            raise NotFoundError(f"Invalid API identifier specified {self.account}:{api_id}", "Api")
        return state

    def _api_doc(self, state: ApiState) -> Doc:
        return {**state.api, "ApiEndpoint": self.endpoint(state.api_id)}

    def get_api(self, api_id: str) -> Doc:
        return self._api_doc(self._state(api_id))

    def list_apis(self) -> list[Doc]:
        return [self._api_doc(s) for s in sorted(self._apis.values(), key=_created)]

    async def create_api(self, body: Doc) -> Doc:
        for member in ("Name", "ProtocolType"):
            if member not in body:
                raise BadRequestError(f"{member} is required")
        target, route_key = body.pop("Target", None), body.pop("RouteKey", None)
        credentials = body.pop("CredentialsArn", None)
        if (route_key is not None or credentials is not None) and target is None:
            raise BadRequestError("RouteKey and CredentialsArn may be given only with Target")
        api = {
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "DisableExecuteApiEndpoint": False,
            "IpAddressType": "ipv4",
            "RouteSelectionExpression": "$request.method $request.path",
            "Tags": {},
            **body,
            "ApiId": self._fresh_api_id(),
            "CreatedDate": self._now(),
        }
        checks.check_api(api)
        state = ApiState(api=api)
        if target is not None:
            self._quick_create(state, target, route_key or "$default", credentials)
        async with self._lock:
            await self._store(state)
        return self._api_doc(state)

    def _fresh_api_id(self) -> str:
        while True:
            ident = new_id(10)
            if ident not in self._apis:
                return ident

    def _quick_create(
        self, state: ApiState, target: str, route_key: str, credentials: str | None
    ) -> None:
        """CreateApi with Target: an integration, a route to it and a $default stage that
        deploys itself, all marked ApiGatewayManaged."""
        integration_id = state.fresh_id(7, state.integrations)
        integration = {
            "ApiGatewayManaged": True,
            "ConnectionType": "INTERNET",
            "IntegrationId": integration_id,
            "IntegrationMethod": "POST",
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": target,
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": 30000,
        }
        if credentials is not None:
            integration["CredentialsArn"] = credentials
        checks.check_integration(integration, self.region, self.account)
        route = {
            **_route_defaults(),
            "ApiGatewayManaged": True,
            "RouteId": state.fresh_id(7, state.routes),
            "RouteKey": route_key,
            "Target": f"integrations/{integration_id}",
        }
        checks.check_route(route, {}, {integration_id: integration}, {})
        state.integrations[integration_id] = integration
        state.routes[route["RouteId"]] = route
        now = self._now()
        state.stages["$default"] = {
            **_stage_defaults(),
            "ApiGatewayManaged": True,
            "AutoDeploy": True,
            "CreatedDate": now,
            "LastUpdatedDate": now,
            "StageName": "$default",
        }
        self._autodeploy(state)

    async def update_api(self, api_id: str, body: Doc) -> Doc:
        def change(state: ApiState) -> Doc:
            target, route_key = body.pop("Target", None), body.pop("RouteKey", None)
            body.pop("CredentialsArn", None)
            state.api.update(body)
            checks.check_api(state.api)
            if target is not None or route_key is not None:
                self._update_quick(state, target, route_key)
            return self._api_doc(state)

        return await self._change(api_id, change)

    def _update_quick(self, state: ApiState, target: str | None, route_key: str | None) -> None:
        route = next((r for r in state.routes.values() if r.get("ApiGatewayManaged")), None)
        if route is None:
            raise BadRequestError("Target and RouteKey apply only to an API made by quick create")
        integration = state.integrations[route["Target"].partition("/")[2]]
        if target is not None:
            integration["IntegrationUri"] = target
            checks.check_integration(integration, self.region, self.account)
        if route_key is not None:
            others = {k: v for k, v in state.routes.items() if k != route["RouteId"]}
            route["RouteKey"] = route_key
            checks.check_route(route, others, state.integrations, state.authorizers)

    async def delete_api(self, api_id: str) -> None:
        async with self._lock:
            self._state(api_id)
            await run_blocking(self._documents.write, deletes=[(KIND, api_id)])
            del self._apis[api_id]
            self._forget(api_id)

    # -- routes, integrations, authorizers, stages, deployments ----------------------

    def get(self, api_id: str, kind: Kind, ident: str) -> Doc:
        found: Doc | None = getattr(self._state(api_id), kind.collection).get(ident)
        if found is None:
            raise NotFoundError(
                f"Invalid {kind.resource_type} identifier specified {ident}", kind.resource_type
            )
        return found

    def list(self, api_id: str, kind: Kind) -> list[Doc]:
        items: dict[str, Doc] = getattr(self._state(api_id), kind.collection)
        return list(items.values())

    async def create(self, api_id: str, kind: Kind, body: Doc) -> Doc:
        def change(state: ApiState) -> Doc:
            items: dict[str, Doc] = getattr(state, kind.collection)
            if kind is STAGES:
                name = body.get("StageName")
                if name is None:
                    raise BadRequestError("StageName is required")
                if name in items:
                    raise ConflictError(f"Stage {name} already exists")
                now = self._now()
                doc = {**_stage_defaults(), **body, "CreatedDate": now, "LastUpdatedDate": now}
                ident = name
            else:
                ident = state.fresh_id(kind.id_length, items)
                doc = {**_DEFAULTS.get(kind.collection, dict)(), **body, kind.id_member: ident}
            self._check(state, kind, doc, ident)
            items[ident] = doc
            return doc

        return await self._change(api_id, change)

    async def update(self, api_id: str, kind: Kind, ident: str, body: Doc) -> Doc:
        def change(state: ApiState) -> Doc:
            items: dict[str, Doc] = getattr(state, kind.collection)
            old = items.get(ident)
            if old is None:
                raise NotFoundError(
                    f"Invalid {kind.resource_type} identifier specified {ident}",
                    kind.resource_type,
                )
            doc = {**old, **body, kind.id_member: ident}
            if kind is STAGES:
                doc["LastUpdatedDate"] = self._now()
            self._check(state, kind, doc, ident)
            items[ident] = doc
            return doc

        return await self._change(api_id, change)

    async def delete(self, api_id: str, kind: Kind, ident: str) -> None:
        def change(state: ApiState) -> None:
            self.get(api_id, kind, ident)
            if kind is INTEGRATIONS:
                _refuse_if_used(state, "Target", f"integrations/{ident}", "Integration", ident)
            elif kind is AUTHORIZERS:
                _refuse_if_used(state, "AuthorizerId", ident, "Authorizer", ident)
            elif kind is DEPLOYMENTS:
                if any(s.get("DeploymentId") == ident for s in state.stages.values()):
                    raise BadRequestError(
                        "Active stages pointing to this deployment must be moved or deleted"
                    )
                state.snapshots.pop(ident, None)
            del getattr(state, kind.collection)[ident]

        await self._change(api_id, change)

    async def create_deployment(self, api_id: str, body: Doc) -> Doc:
        def change(state: ApiState) -> Doc:
            if not state.routes:
                raise BadRequestError("Unable to deploy API because no routes exist in this API")
            name = body.get("StageName")
            stage = None
            if name is not None:
                stage = state.stages.get(name)
                if stage is None:
                    raise NotFoundError(f"Invalid stage identifier specified {name}", "Stage")
                if stage.get("AutoDeploy"):
                    raise BadRequestError(f"Stage {name} has AutoDeploy enabled: it deploys itself")
            return self._deploy(state, stage, auto=False, description=body.get("Description"))

        return await self._change(api_id, change)

    def _check(self, state: ApiState, kind: Kind, doc: Doc, ident: str) -> None:
        if kind is ROUTES:
            others = {k: v for k, v in state.routes.items() if k != ident}
            checks.check_route(doc, others, state.integrations, state.authorizers)
        elif kind is INTEGRATIONS:
            checks.check_integration(doc, self.region, self.account)
        elif kind is AUTHORIZERS:
            checks.check_authorizer(doc, self.region, self.account)
            # A route that relies on the authorizer's type must still find it.
            for route in state.routes.values():
                if route.get("AuthorizerId") == ident:
                    checks.check_route(route, {}, state.integrations, {ident: doc})
        elif kind is STAGES:
            checks.check_stage(doc, state.deployments)

    def _deploy(
        self, state: ApiState, stage: Doc | None, *, auto: bool, description: str | None
    ) -> Doc:
        ident = state.fresh_id(6, state.deployments)
        deployment: Doc = {
            "AutoDeployed": auto,
            "CreatedDate": self._now(),
            "DeploymentId": ident,
            "DeploymentStatus": "DEPLOYED",
        }
        if description is not None:
            deployment["Description"] = description
        state.deployments[ident] = deployment
        state.snapshots[ident] = state.snapshot()
        if stage is not None:
            stage["DeploymentId"] = ident
            stage["LastUpdatedDate"] = deployment["CreatedDate"]
            stage["LastDeploymentStatusMessage"] = (
                f"Successfully deployed stage with deployment ID '{ident}'"
            )
        return deployment

    def _autodeploy(self, state: ApiState) -> None:
        if not state.routes:
            return
        current = state.snapshot()
        for stage in state.stages.values():
            deployed = stage.get("DeploymentId")
            if stage.get("AutoDeploy") and (
                deployed is None or state.snapshots.get(deployed) != current
            ):
                self._deploy(state, stage, auto=True, description=AUTO_DESCRIPTION)
        # Automatic deployments no stage serves any more go (they would pile up).
        serving = {s.get("DeploymentId") for s in state.stages.values()}
        for ident, deployment in list(state.deployments.items()):
            if deployment.get("AutoDeployed") and ident not in serving:
                del state.deployments[ident]
                state.snapshots.pop(ident, None)

    async def _change(self, api_id: str, change: Callable[[ApiState], T]) -> T:
        async with self._lock:
            state = self._state(api_id).copy()
            result = change(state)
            self._autodeploy(state)
            await self._store(state)
            return result

    async def _store(self, state: ApiState) -> None:
        """Durable, then visible."""
        await run_blocking(self._documents.write, puts=[(KIND, state.api_id, state.to_doc())])
        self._apis[state.api_id] = state
        self._forget(state.api_id)

    def _forget(self, api_id: str) -> None:
        for key in [k for k in self._deployed if k[0] == api_id]:
            del self._deployed[key]

    # -- tags -----------------------------------------------------------------------

    def _tagged(self, state: ApiState, arn: str) -> Doc:
        """The API or stage document `arn` names (its Tags live there)."""
        match = _TAGGABLE.fullmatch(arn)
        if match is None or match.group("region") != self.region:
            raise BadRequestError(f"Invalid resource ARN: {arn}")
        if match.group("stage") is None:
            return state.api
        stage: Doc | None = state.stages.get(match.group("stage"))
        if stage is None:
            raise NotFoundError(
                f"Invalid stage identifier specified {match.group('stage')}", "Stage"
            )
        return stage

    def _api_of(self, arn: str) -> str:
        match = _TAGGABLE.fullmatch(arn)
        if match is None:
            raise BadRequestError(f"Invalid resource ARN: {arn}")
        return match.group("api")

    def get_tags(self, arn: str) -> Doc:
        return {"Tags": dict(self._tagged(self._state(self._api_of(arn)), arn).get("Tags", {}))}

    async def tag(self, arn: str, tags: dict[str, str]) -> None:
        def change(state: ApiState) -> None:
            doc = self._tagged(state, arn)
            doc["Tags"] = {**doc.get("Tags", {}), **tags}

        await self._change(self._api_of(arn), change)

    async def untag(self, arn: str, keys: Sequence[str]) -> None:
        def change(state: ApiState) -> None:
            doc = self._tagged(state, arn)
            doc["Tags"] = {k: v for k, v in doc.get("Tags", {}).items() if k not in keys}

        await self._change(self._api_of(arn), change)

    # -- serving --------------------------------------------------------------------

    def find(self, api_id: str) -> ApiState | None:
        return self._apis.get(api_id)

    def deployed(self, api_id: str, stage_name: str) -> Deployed | None:
        """What `stage_name` of the API serves; None without such a stage or deployment."""
        key = (api_id, stage_name)
        try:
            return self._deployed[key]
        except KeyError:
            pass
        found = self._compile(api_id, stage_name)
        self._deployed[key] = found
        return found

    def _compile(self, api_id: str, stage_name: str) -> Deployed | None:
        state = self._apis.get(api_id)
        stage = state.stages.get(stage_name) if state else None
        if state is None or stage is None or stage.get("DeploymentId") is None:
            return None
        snapshot = state.snapshots.get(stage["DeploymentId"])
        if snapshot is None:
            return None
        routes: dict[str, Doc] = snapshot["routes"]
        return Deployed(
            api_id=api_id,
            stage=stage_name,
            stage_variables=dict(stage.get("StageVariables") or {}),
            router=Router((ident, parse(r["RouteKey"])) for ident, r in routes.items()),
            routes=routes,
            integrations=snapshot["integrations"],
            authorizers=snapshot["authorizers"],
        )


def _created(state: ApiState) -> Any:
    return (state.api.get("CreatedDate", ""), state.api_id)


def _refuse_if_used(state: ApiState, member: str, value: str, what: str, ident: str) -> None:
    users = sorted(r["RouteId"] for r in state.routes.values() if r.get(member) == value)
    if users:
        raise ConflictError(
            f"{what} {ident} is used by route(s) {', '.join(users)}: change or delete them first"
        )


def _route_defaults() -> Doc:
    return {"ApiKeyRequired": False, "AuthorizationType": "NONE"}


def _integration_defaults() -> Doc:
    return {"ConnectionType": "INTERNET", "IntegrationMethod": "POST", "TimeoutInMillis": 30000}


def _authorizer_defaults() -> Doc:
    return {}


def _stage_defaults() -> Doc:
    return {
        "AutoDeploy": False,
        "DefaultRouteSettings": {"DetailedMetricsEnabled": False},
        "RouteSettings": {},
        "StageVariables": {},
        "Tags": {},
    }


_DEFAULTS: dict[str, Callable[[], Doc]] = {
    "routes": _route_defaults,
    "integrations": _integration_defaults,
    "authorizers": _authorizer_defaults,
}
