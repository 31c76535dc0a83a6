"""Layers through boto3: the API (shapes, AWS's recorded errors for every layer row of
shared/conformance), and what a function gets from them (/opt, order, limits, deletion)."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.apicalls import ACCOUNT, REGION, RUNTIME, Outcome, outcome_of, unique
from tests.e2e.harness import ROLE, Server, create_function, make_zip
from tests.e2e.test_conformance import Row, expected_message, load_rows

pytestmark = pytest.mark.e2e

LAYER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:"


def _layer_zip(files: dict[str, str]) -> bytes:
    return make_zip(files)


def _publish(lam: Any, name: str, files: dict[str, str] | None = None, **kwargs: Any) -> Any:
    content = _layer_zip(files or {"python/marker.py": f"NAME = {name!r}\n"})
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": content}, **kwargs)


@pytest.fixture
def lax(server: Server) -> Any:
    """A client without botocore's parameter checks, to send what AWS itself must refuse."""
    return server.client(parameter_validation=False)


# -- the API ----------------------------------------------------------------------------


def test_publish_get_list_delete(lam: Any, server: Server) -> None:
    name = unique("layer")
    first = _publish(
        lam, name, Description="first", LicenseInfo="MIT",
        CompatibleRuntimes=["python3.11", "python3.12"], CompatibleArchitectures=["x86_64"],
    )  # fmt: skip
    second = _publish(lam, name, CompatibleRuntimes=["python3.12"])
    assert first["LayerArn"] == LAYER_ARN + name
    assert (first["Version"], second["Version"]) == (1, 2)
    assert first["LayerVersionArn"] == f"{LAYER_ARN}{name}:1"
    assert first["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert (first["Description"], first["LicenseInfo"]) == ("first", "MIT")
    assert first["CompatibleArchitectures"] == ["x86_64"]
    with urllib.request.urlopen(first["Content"]["Location"]) as download:
        assert zipfile.ZipFile(io.BytesIO(download.read())).namelist() == ["python/marker.py"]
    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["Content"]["CodeSha256"] == first["Content"]["CodeSha256"]
    assert got["CreatedDate"] == first["CreatedDate"]
    by_arn = lam.get_layer_version_by_arn(Arn=first["LayerVersionArn"])
    assert by_arn["Version"] == 1
    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    only_311 = lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.11")
    assert [v["Version"] for v in only_311["LayerVersions"]] == [1]
    listed = {layer["LayerName"]: layer for layer in lam.list_layers()["Layers"]}
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    matching = {
        x["LayerName"]: x for x in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]
    }
    assert matching[name]["LatestMatchingVersion"]["Version"] == 1
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # again: still 204
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [1]
    third = _publish(lam, name)
    assert third["Version"] == 3  # numbers are never reused


def test_layer_version_permissions(lam: Any) -> None:
    name = unique("shared")
    _publish(lam, name)
    added = lam.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="everyone", Action="lambda:GetLayerVersion",
        Principal="*", OrganizationId="o-abcdefghij",
    )  # fmt: skip
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "everyone",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": f"{LAYER_ARN}{name}:1",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    }
    second = lam.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="one", Action="lambda:GetLayerVersion",
        Principal="123456789012", RevisionId=added["RevisionId"],
    )  # fmt: skip
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == second["RevisionId"]
    document = json.loads(policy["Policy"])
    assert [s["Sid"] for s in document["Statement"]] == ["everyone", "one"]
    assert document["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="everyone")
    remaining = json.loads(lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in remaining["Statement"]] == ["one"]


# -- AWS's recorded answers ---------------------------------------------------------------

Scenario = Callable[[Any, Any], tuple[Outcome, dict[str, str]]]


def _on_layer(call: Callable[[Any, Any, str], Any], *, publish: bool = True) -> Scenario:
    """`call(lam, lax, layer_name)` against a fresh layer (published once if `publish`)."""

    def scenario(lam: Any, lax: Any) -> tuple[Outcome, dict[str, str]]:
        name = unique("layer")
        if publish:
            _publish(lam, name)
        return outcome_of(lambda: call(lam, lax, name)), {"<resource:1>": name}

    return scenario


def _with_policy(call: Callable[[Any, Any, str], Any]) -> Scenario:
    def add(lam: Any, lax: Any, name: str) -> Any:
        lam.add_layer_version_permission(
            LayerName=name, VersionNumber=1, StatementId="s1",
            Action="lambda:GetLayerVersion", Principal="*",
        )  # fmt: skip
        return call(lam, lax, name)

    return _on_layer(add)


def _function_with(layers: Callable[[str], list[str]]) -> Scenario:
    """CreateFunction with Layers built from a layer published twice; nothing is created."""

    def call(lam: Any, lax: Any, name: str) -> Any:
        _publish(lam, name)
        return lax.create_function(
            FunctionName=unique("fn"), Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return 1\n"})},
            Layers=layers(LAYER_ARN + name),
        )  # fmt: skip

    return _on_layer(call)


def _permission(version: int, suffix: str = "") -> Callable[[Any, Any, str], Any]:
    def call(lam: Any, lax: Any, name: str) -> Any:
        return lax.add_layer_version_permission(
            LayerName=name + suffix, VersionNumber=version, StatementId="s1",
            Action="lambda:GetLayerVersion", Principal="*",
        )  # fmt: skip

    return call


SCENARIOS: dict[str, Scenario] = {
    "test_layer_exceptions/list_layers_exc_compatibleruntime_invalid": _on_layer(
        lambda lam, lax, n: lax.list_layers(CompatibleRuntime="runtimedoesnotexist"), publish=False
    ),
    "test_layer_exceptions/list_layers_exc_compatiblearchitecture_invalid": _on_layer(
        lambda lam, lax, n: lax.list_layers(CompatibleArchitecture="archdoesnotexist"),
        publish=False,
    ),
    "test_layer_exceptions/get_layer_version_exc_layer_doesnotexist": _on_layer(
        lambda lam, lax, n: lax.get_layer_version(LayerName=n + "-doesnotexist", VersionNumber=1)
    ),
    "test_layer_exceptions/get_layer_version_exc_layer_version_doesnotexist_negative": _on_layer(
        lambda lam, lax, n: lax.get_layer_version(LayerName=n, VersionNumber=-1)
    ),
    "test_layer_exceptions/get_layer_version_exc_layer_version_doesnotexist_zero": _on_layer(
        lambda lam, lax, n: lax.get_layer_version(LayerName=n, VersionNumber=0)
    ),
    "test_layer_exceptions/get_layer_version_exc_layer_version_doesnotexist_2": _on_layer(
        lambda lam, lax, n: lax.get_layer_version(LayerName=n, VersionNumber=2)
    ),
    "test_layer_exceptions/get_layer_version_by_arn_exc_invalidarn": _on_layer(
        lambda lam, lax, n: lax.get_layer_version_by_arn(Arn=LAYER_ARN + n)
    ),
    "test_layer_exceptions/get_layer_version_by_arn_exc_nonexistentversion": _on_layer(
        lambda lam, lax, n: lax.get_layer_version_by_arn(Arn=f"{LAYER_ARN}{n}:2")
    ),
    "test_layer_exceptions/delete_layer_version_exc_layerversion_invalid_version": _on_layer(
        lambda lam, lax, n: lax.delete_layer_version(LayerName=n, VersionNumber=-1)
    ),
    "test_layer_exceptions/publish_layer_version_exc_invalid_runtime_arch": _on_layer(
        lambda lam, lax, n: lax.publish_layer_version(
            LayerName=n,
            Content={"ZipFile": _layer_zip({"a": "b"})},
            CompatibleRuntimes=["invalidruntime"],
            CompatibleArchitectures=["invalidarch"],
        ),
        publish=False,
    ),
    "test_layer_exceptions/publish_layer_version_exc_partially_invalid_values": _on_layer(
        lambda lam, lax, n: lax.publish_layer_version(
            LayerName=n,
            Content={"ZipFile": _layer_zip({"a": "b"})},
            CompatibleRuntimes=["invalidruntime", "invalidruntime2", "nodejs20.x"],
            CompatibleArchitectures=["invalidarch", "x86_64"],
        ),
        publish=False,
    ),
    "test_layer_policy_exceptions/layer_permission_nopolicy_get": _on_layer(
        lambda lam, lax, n: lax.get_layer_version_policy(LayerName=n, VersionNumber=1)
    ),
    "test_layer_policy_exceptions/layer_permission_action_invalid": _on_layer(
        lambda lam, lax, n: lax.add_layer_version_permission(
            LayerName=n, VersionNumber=1, StatementId="s1", Action="*", Principal="*"
        )
    ),
    "test_layer_policy_exceptions/layer_permission_duplicate_statement": _with_policy(
        _permission(1)
    ),
    "test_layer_policy_exceptions/layer_permission_wrong_revision": _with_policy(
        lambda lam, lax, n: lax.add_layer_version_permission(
            LayerName=n,
            VersionNumber=1,
            StatementId="s2",
            Action="lambda:GetLayerVersion",
            Principal="*",
            RevisionId="wrong",
        )
    ),
    "test_layer_policy_exceptions/layer_permission_layername_doesnotexist_add": _on_layer(
        _permission(1, "-doesnotexist")
    ),
    "test_layer_policy_exceptions/layer_permission_layername_doesnotexist_get": _on_layer(
        lambda lam, lax, n: lax.get_layer_version_policy(
            LayerName=n + "-doesnotexist", VersionNumber=1
        )
    ),
    "test_layer_policy_exceptions/layer_permission_layername_doesnotexist_remove": _on_layer(
        lambda lam, lax, n: lax.remove_layer_version_permission(
            LayerName=n + "-doesnotexist", VersionNumber=1, StatementId="s1"
        )
    ),
    "test_layer_policy_exceptions/layer_permission_layerversion_doesnotexist_add": _on_layer(
        _permission(2)
    ),
    "test_layer_policy_exceptions/layer_permission_layerversion_doesnotexist_get": _on_layer(
        lambda lam, lax, n: lax.get_layer_version_policy(LayerName=n, VersionNumber=2)
    ),
    "test_layer_policy_exceptions/layer_permission_layerversion_doesnotexist_remove": _on_layer(
        lambda lam, lax, n: lax.remove_layer_version_permission(
            LayerName=n, VersionNumber=2, StatementId="s1"
        )
    ),
    "test_layer_policy_exceptions/layer_permission_statementid_doesnotexist_remove": _with_policy(
        lambda lam, lax, n: lax.remove_layer_version_permission(
            LayerName=n, VersionNumber=1, StatementId="doesnotexist"
        )
    ),
    "test_layer_policy_exceptions/layer_permission_wrong_revision_remove": _with_policy(
        lambda lam, lax, n: lax.remove_layer_version_permission(
            LayerName=n, VersionNumber=1, StatementId="s1", RevisionId="wrong"
        )
    ),
    "test_layer_function_exceptions/two_layer_versions_single_function_exc": _function_with(
        lambda arn: [f"{arn}:1", f"{arn}:2"]
    ),
    "test_layer_function_exceptions/three_layer_versions_single_function_exc": _function_with(
        lambda arn: [f"{arn}:1", f"{arn}:2", f"{arn}:1"]
    ),
    "test_layer_function_exceptions/two_identical_layer_versions_single_function_exc": (
        _function_with(lambda arn: [f"{arn}:1", f"{arn}:1"])
    ),
    "test_layer_function_exceptions/add_nonexistent_layer_exc": _function_with(
        lambda arn: [f"{LAYER_ARN}doesnotexist:1"]
    ),
    "test_layer_function_exceptions/add_nonexistent_layer_version_exc": _function_with(
        lambda arn: [f"{arn}:9"]
    ),
    "test_layer_function_exceptions/add_layer_arn_without_version_exc": _function_with(
        lambda arn: [arn]
    ),
    "test_layer_function_exceptions/create_function_with_layer_in_different_region": (
        _function_with(lambda arn: [f"{arn.replace(REGION, 'eu-central-1')}:1"])
    ),
    "test_layer_function_quota_exception/create_function_with_six_layers": _function_with(
        lambda arn: [f"{arn}-{i}:1" for i in range(6)]
    ),
}


def _layer_rows() -> dict[str, Row]:
    return {
        key.removeprefix("TestLambdaLayer::"): row
        for key, row in load_rows().items()
        if key.startswith("TestLambdaLayer::")
    }


def test_every_layer_row_has_a_scenario() -> None:
    assert sorted(_layer_rows()) == sorted(SCENARIOS)


@pytest.mark.parametrize("key", sorted(SCENARIOS))
def test_aws_recorded_answer(key: str, lam: Any, lax: Any) -> None:
    row = _layer_rows()[key]
    outcome, names = SCENARIOS[key](lam, lax)
    assert (outcome.code, outcome.status) == (row.code, row.status)
    assert outcome.message == expected_message(row, names)
    for field, value in row.extra.items():
        assert outcome.fields.get(field) == value


# -- what functions get ---------------------------------------------------------------------

READ_SHARED = """
import os, shared
def handler(event, context):
    try:
        import only2  # from the second layer's python/lib/python3.X/site-packages
    except ImportError:
        only2 = None
    return {"value": shared.VALUE, "opt": sorted(os.listdir("/opt/python")),
            "site_packages": only2 is not None}
"""


def test_later_layers_win_and_python_finds_both_folders(lam: Any) -> None:
    first, second = unique("first"), unique("second")
    version = RUNTIME.removeprefix("python")
    one = _publish(lam, first, {"python/shared.py": "VALUE = 'first'\n", "python/only1.py": ""})
    two = _publish(
        lam, second,
        {f"python/lib/python{version}/site-packages/only2.py": "",
         "python/shared.py": "VALUE = 'second'\n"},
    )  # fmt: skip
    for layers, expected in (([one, two], "second"), ([two, one], "first")):
        name = unique("ordered")
        create_function(lam, name, READ_SHARED, Layers=[x["LayerVersionArn"] for x in layers])
        doc = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
        assert doc["value"] == expected, doc
        assert "only1.py" in doc["opt"]
        assert doc["site_packages"] is True
        config = lam.get_function_configuration(FunctionName=name)
        assert config["Layers"] == [
            {"Arn": x["LayerVersionArn"], "CodeSize": x["Content"]["CodeSize"]} for x in layers
        ]


def test_code_and_layers_together_at_most_250_mb(lam: Any) -> None:
    def big(mb: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("python/blob.bin", b"\0" * (mb << 20))
        return buffer.getvalue()

    layers = [
        lam.publish_layer_version(LayerName=unique("big"), Content={"ZipFile": big(126)})
        for _ in range(2)
    ]
    name = unique("toobig")
    outcome = outcome_of(
        lambda: create_function(
            lam, name, READ_SHARED, Layers=[x["LayerVersionArn"] for x in layers]
        )
    )
    assert (outcome.code, outcome.message) == (
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
    )
    create_function(lam, name, READ_SHARED, Layers=[layers[0]["LayerVersionArn"]])  # 126 MB: fine
    outcome = outcome_of(
        lambda: lam.update_function_configuration(
            FunctionName=name, Layers=[x["LayerVersionArn"] for x in layers]
        )
    )
    assert outcome.code == "InvalidParameterValueException"


def test_a_deleted_layer_version_keeps_working_for_its_functions(lam: Any) -> None:
    layer = unique("gone")
    published = _publish(lam, layer, {"python/shared.py": "VALUE = 'still here'\n"})
    name = unique("user")
    create_function(lam, name, READ_SHARED, Layers=[published["LayerVersionArn"]])
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    assert outcome_of(lambda: lam.get_layer_version(LayerName=layer, VersionNumber=1)).status == 404
    lam.update_function_configuration(FunctionName=name, Description="a fresh environment")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    doc = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert doc["value"] == "still here"
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Layers"][0]["Arn"] == published["LayerVersionArn"]
    # New references to it are refused, as on Lambda.
    outcome = outcome_of(
        lambda: create_function(
            lam, unique("late"), READ_SHARED, Layers=[published["LayerVersionArn"]]
        )
    )
    assert outcome.message == f"Layer version {published['LayerVersionArn']} does not exist."
