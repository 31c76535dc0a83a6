"""Versions, provisioned concurrency and REPORT lines as Lambda shows them: the first invoke
of a provisioned environment reports no Init Duration, Publish=True answers at once,
PublishVersion moves $LATEST's RevisionId, a deleted version takes its provisioned config
with it, and an alias with its own provisioned config cannot move onto a version that has
one too. One server for the module, boto3 against it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.apicalls import deploy, expect_error, unique, wait_settled
from tests.e2e.harness import Server, make_zip, run_server, wait_until

pytestmark = pytest.mark.e2e

CODE = {"app.py": "def handler(event, context):\n    return {'ok': True}\n"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("fidelity") / "data") as s:
        yield s


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


def _provisioned_ready(lam: Any, name: str, qualifier: str) -> None:
    def ready() -> bool:
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        assert config["Status"] != "FAILED", config
        return bool(config["Status"] == "READY")

    wait_until(ready, limit=60)


def _report(lam: Any, name: str, qualifier: str | None = None) -> str:
    extra = {"Qualifier": qualifier} if qualifier else {}
    answer = lam.invoke(FunctionName=name, LogType="Tail", **extra)
    assert "FunctionError" not in answer
    tail = base64.b64decode(answer["LogResult"]).decode()
    return next(line for line in tail.splitlines() if line.startswith("REPORT"))


def test_a_provisioned_environment_reports_no_init_duration(lam: Any) -> None:
    name = unique("prov-report")
    deploy(lam, name, CODE)
    # The control: an on-demand cold start shows its Init in the first REPORT.
    assert "Init Duration" in _report(lam, name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    _provisioned_ready(lam, name, version)
    # Init ran when the environment was provisioned, not in this invocation.
    first = _report(lam, name, version)
    assert "Init Duration" not in first, first
    assert "Billed Duration" in first
    lam.delete_function(FunctionName=name)


def test_create_with_publish_answers_at_once_pending(lam: Any) -> None:
    name = unique("publish-create")
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": make_zip(CODE)},
        Publish=True,
    )
    assert (created["Version"], created["State"]) == ("1", "Pending")
    assert created["FunctionArn"].endswith(f":{name}:1")
    wait_settled(lam, name)
    # Published once $LATEST is Active, as AWS's version 1 is.
    assert wait_until(lambda: _version(lam, name, "1"), limit=15)
    version = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert version["State"] == "Active"
    assert lam.invoke(FunctionName=name, Qualifier="1")["StatusCode"] == 200
    lam.delete_function(FunctionName=name)


def _version(lam: Any, name: str, number: str) -> dict[str, Any] | None:
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    return next((v for v in versions if v["Version"] == number), None)


def test_publish_version_changes_latest_revision_id(lam: Any) -> None:
    name = unique("publish-rev")
    deploy(lam, name, CODE)
    lam.invoke(FunctionName=name)  # a warm $LATEST environment
    before = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    published = lam.publish_version(FunctionName=name)
    after = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert after != before
    assert published["RevisionId"] not in (before, after)
    # The old RevisionId no longer passes as a precondition; the new one does.
    expect_error(
        lambda: lam.update_function_configuration(
            FunctionName=name, Description="x", RevisionId=before
        ),
        "PreconditionFailedException",
        412,
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    # Publishing again with nothing changed returns the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == published["Version"]
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    lam.update_function_configuration(FunctionName=name, Description="x", RevisionId=after)
    lam.delete_function(FunctionName=name)


def test_deleting_a_version_deletes_its_provisioned_config(lam: Any) -> None:
    name = unique("prov-delete")
    deploy(lam, name, CODE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    lam.delete_function(FunctionName=name, Qualifier=version)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert listed["ProvisionedConcurrencyConfigs"] == []
    expect_error(
        lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version),
        "ResourceNotFoundException",
        404,
        f"Function not found: {lam.get_function(FunctionName=name)['Configuration']['FunctionArn']}"
        f":{version}",
    )
    # Its environments went too: the account's unreserved concurrency is whole again.
    settings = lam.get_account_settings()["AccountLimit"]
    assert settings["UnreservedConcurrentExecutions"] == settings["ConcurrentExecutions"]
    lam.delete_function(FunctionName=name)


def test_an_alias_with_provisioned_concurrency_cannot_move_onto_a_provisioned_version(
    lam: Any,
) -> None:
    name = unique("prov-alias")
    deploy(lam, name, CODE)
    one = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Description="two")
    wait_settled(lam, name)
    two = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=one)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=two, ProvisionedConcurrentExecutions=1
    )
    expect_error(
        lambda: lam.update_alias(FunctionName=name, Name="live", FunctionVersion=two),
        "ResourceConflictException",
        409,
        "Alias can't be used for Provisioned Concurrency configuration on an already "
        "Provisioned version",
    )
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == one
    # An alias without a config of its own may point at a provisioned version.
    lam.create_alias(FunctionName=name, Name="plain", FunctionVersion=one)
    lam.update_alias(FunctionName=name, Name="plain", FunctionVersion=two)
    lam.delete_function(FunctionName=name)
