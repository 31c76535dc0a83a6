"""HttpApis on an in-memory document store: deployments, AutoDeploy, refusals that change
nothing, and reloading."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from ember.clock import ManualClock
from ember.gateway.apis.errors import BadRequestError, ConflictError
from ember.gateway.apis.service import DEPLOYMENTS, INTEGRATIONS, ROUTES, STAGES, HttpApis

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


class MemoryDocuments:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0

    def write(
        self,
        puts: Sequence[tuple[str, str, dict[str, Any]]] = (),
        deletes: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.writes += 1
        for kind, key in deletes:
            self.docs.pop((kind, key), None)
        for kind, key, doc in puts:
            self.docs[(kind, key)] = doc

    def load(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: doc for (k, key), doc in self.docs.items() if k == kind}


def _apis(documents: MemoryDocuments) -> HttpApis:
    return HttpApis(
        documents, ManualClock(), region="us-east-1", account="000000000000",
        domain="localhost", port=9001,
    )  # fmt: skip


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_auto_deploy_follows_changes_and_manual_stages_wait() -> None:
    async def scenario() -> None:
        apis = _apis(MemoryDocuments())
        api = await apis.create_api({"Name": "a", "ProtocolType": "HTTP"})
        api_id = api["ApiId"]
        integration = await apis.create(
            api_id, INTEGRATIONS,
            {"IntegrationType": "AWS_PROXY", "IntegrationUri": ARN, "PayloadFormatVersion": "2.0"},
        )  # fmt: skip
        target = f"integrations/{integration['IntegrationId']}"
        await apis.create(api_id, ROUTES, {"RouteKey": "GET /a", "Target": target})
        await apis.create(api_id, STAGES, {"StageName": "$default", "AutoDeploy": True})
        await apis.create(api_id, STAGES, {"StageName": "prod"})
        assert apis.deployed(api_id, "prod") is None  # never deployed
        auto = apis.deployed(api_id, "$default")
        assert auto is not None
        assert auto.router.match("GET", "/a") is not None
        await apis.create_deployment(api_id, {"StageName": "prod"})
        await apis.create(api_id, ROUTES, {"RouteKey": "GET /b", "Target": target})
        auto = apis.deployed(api_id, "$default")
        prod = apis.deployed(api_id, "prod")
        assert auto is not None
        assert prod is not None
        assert auto.router.match("GET", "/b") is not None
        assert prod.router.match("GET", "/b") is None
        # Superseded automatic deployments go; the manual one stays.
        assert {s["StageName"] for s in apis.list(api_id, STAGES)} == {"$default", "prod"}
        assert len(apis.list(api_id, DEPLOYMENTS)) == 2

    _run(scenario())


def test_refusals_change_nothing_and_apis_reload() -> None:
    async def scenario() -> None:
        documents = MemoryDocuments()
        apis = _apis(documents)
        api_id = (await apis.create_api({"Name": "a", "ProtocolType": "HTTP", "Target": ARN}))[
            "ApiId"
        ]
        before = (documents.writes, apis.list(api_id, ROUTES), apis.get_api(api_id))
        with pytest.raises(BadRequestError):
            await apis.create(api_id, ROUTES, {"RouteKey": "GET nope"})
        with pytest.raises(ConflictError):
            await apis.create(api_id, ROUTES, {"RouteKey": "$default"})
        with pytest.raises(BadRequestError):
            await apis.create_api({"Name": "w", "ProtocolType": "WEBSOCKET"})
        integration = apis.list(api_id, INTEGRATIONS)[0]
        with pytest.raises(ConflictError):
            await apis.delete(api_id, INTEGRATIONS, integration["IntegrationId"])
        assert (documents.writes, apis.list(api_id, ROUTES), apis.get_api(api_id)) == before
        again = _apis(documents)
        await again.load()
        assert again.get_api(api_id) == apis.get_api(api_id)
        served = again.deployed(api_id, "$default")
        assert served is not None
        assert served.router.match("DELETE", "/anything") is not None

    _run(scenario())
