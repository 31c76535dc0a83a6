"""Versions and aliases end to end: PublishVersion snapshots, qualifiers in every name form
AWS accepts, aliases and their weighted routing, against a real `ember serve`."""

from __future__ import annotations

import collections
import http.client
import io
import json
import math
import threading
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.apicalls import (
    ACCOUNT,
    arn,
    deploy,
    expect_error,
    outcome_of,
    unique,
    wait_settled,
)
from tests.e2e.harness import Server, aws_cli, make_zip, run_server

pytestmark = pytest.mark.e2e

REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
ONLY_LATEST = (
    "Current operation does not support versions other than $LATEST. Please set the version "
    "to $LATEST or do not set a version in your request."
)
MIXED_QUALIFIERS = (
    "The derived qualifier from the function name does not match the specified qualifier."
)


def code(tag: str) -> dict[str, str | bytes]:
    """A handler that says which code (`tag`) and which version ran, and how it was called."""
    return {
        "app.py": (
            "import os\n"
            f"TAG = {tag!r}\n"
            "def handler(event, context):\n"
            "    return {'tag': TAG, 'version': context.function_version,\n"
            "            'arn': context.invoked_function_arn, 'stage': os.environ.get('STAGE')}\n"
        )
    }


def invoke(lam: Any, name: str, qualifier: str | None = None) -> tuple[str, dict[str, Any]]:
    """(X-Amz-Executed-Version, the function's answer)."""
    extra = {} if qualifier is None else {"Qualifier": qualifier}
    response = lam.invoke(FunctionName=name, Payload=b"{}", **extra)
    assert "FunctionError" not in response
    return response["ExecutedVersion"], json.loads(response["Payload"].read())


def versions_of(lam: Any, name: str) -> list[str]:
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    return [v["Version"] for page in pages for v in page["Versions"]]


def change(lam: Any, name: str, description: str) -> None:
    """A configuration change, so that the next PublishVersion has something to publish."""
    lam.update_function_configuration(FunctionName=name, Description=description)
    wait_settled(lam, name)


def versioned(lam: Any, name: str) -> None:
    """Version 1 runs code "one" (STAGE=a); version 2 and $LATEST run "two" (STAGE=b)."""
    deploy(lam, name, code("one"), Environment={"Variables": {"STAGE": "a"}})
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(code("two")))
    wait_settled(lam, name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"STAGE": "b"}})
    wait_settled(lam, name)
    lam.publish_version(FunctionName=name)


@pytest.fixture(scope="module")
def two_versions(server: Server) -> str:
    """A function with versions 1 and 2 that tests only read and alias."""
    name = unique("two-versions")
    versioned(server.client(), name)
    return name


# -- PublishVersion -----------------------------------------------------------------------


def test_a_published_version_is_an_immutable_snapshot(lam: Any) -> None:
    name = unique("snapshot")
    deploy(lam, name, code("one"), Environment={"Variables": {"STAGE": "a"}}, Description="d")
    before = lam.get_function_configuration(FunctionName=name)

    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (v1["Version"], v1["FunctionArn"], v1["Description"]) == (
        "1",
        f"{arn(name)}:1",
        "first",
    )
    assert v1["CodeSha256"] == before["CodeSha256"]

    lam.update_function_code(FunctionName=name, ZipFile=make_zip(code("two")))
    wait_settled(lam, name)
    lam.update_function_configuration(
        FunctionName=name, MemorySize=256, Environment={"Variables": {"STAGE": "b"}}
    )
    wait_settled(lam, name)

    assert invoke(lam, name, "1") == (
        "1",
        {"tag": "one", "version": "1", "arn": f"{arn(name)}:1", "stage": "a"},
    )
    assert invoke(lam, name) == (
        "$LATEST",
        {"tag": "two", "version": "$LATEST", "arn": arn(name), "stage": "b"},
    )
    frozen = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert (frozen["Version"], frozen["MemorySize"], frozen["CodeSha256"]) == (
        "1",
        128,
        before["CodeSha256"],
    )
    assert frozen["Environment"] == {"Variables": {"STAGE": "a"}}
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 256
    # The code a version's GetFunction points at is the code it was published with.
    location = lam.get_function(FunctionName=name, Qualifier="1")["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=10) as answer:
        package = zipfile.ZipFile(io.BytesIO(answer.read()))
    assert "TAG = 'one'" in package.read("app.py").decode()


def test_publish_preconditions_and_publishing_unchanged_code_twice(lam: Any) -> None:
    name = unique("preconditions")
    deploy(lam, name, code("one"))
    latest = lam.get_function_configuration(FunctionName=name)
    expect_error(
        lambda: lam.publish_version(FunctionName=name, CodeSha256="somenonexistentsha256"),
        "InvalidParameterValueException",
        400,
        "CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
        f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.",
    )
    expect_error(
        lambda: lam.publish_version(FunctionName=name, RevisionId="wrong"),
        "PreconditionFailedException",
        412,
        REVISION_MISMATCH,
    )
    assert versions_of(lam, name) == ["$LATEST"]  # a refused publish publishes nothing

    v1 = lam.publish_version(
        FunctionName=name, CodeSha256=latest["CodeSha256"], RevisionId=latest["RevisionId"]
    )
    again = lam.publish_version(FunctionName=name, Description="nothing changed")
    assert (again["Version"], again["RevisionId"]) == ("1", v1["RevisionId"])
    assert versions_of(lam, name) == ["$LATEST", "1"]


def test_version_numbers_are_never_reused(lam: Any) -> None:
    name = unique("numbers")
    deploy(lam, name, code("one"))
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    change(lam, name, "two")
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.delete_function(FunctionName=name, Qualifier="2")
    change(lam, name, "three")
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
    assert versions_of(lam, name) == ["$LATEST", "1", "3"]


def test_publish_flag_on_create_and_on_code_update(lam: Any) -> None:
    name = unique("publish-flag")
    created = deploy(lam, name, code("one"), Publish=True)
    assert created["Version"] == "1"
    updated = lam.update_function_code(
        FunctionName=name, ZipFile=make_zip(code("two")), Publish=True
    )
    assert (updated["Version"], updated["FunctionArn"]) == ("2", f"{arn(name)}:2")
    # As on AWS, the answer comes before the update is done; the version follows it.
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert versions_of(lam, name) == ["$LATEST", "1", "2"]
    assert invoke(lam, name, "1")[1]["tag"] == "one"
    assert invoke(lam, name, "2")[1]["tag"] == "two"


def test_listing_versions_pages_in_order(server: Server, lam: Any) -> None:
    name = unique("listing")
    deploy(lam, name, code("one"))
    lam.publish_version(FunctionName=name)
    for n in (2, 3):
        change(lam, name, f"v{n}")
        lam.publish_version(FunctionName=name)

    first = lam.list_versions_by_function(FunctionName=name, MaxItems=2)
    assert [v["Version"] for v in first["Versions"]] == ["$LATEST", "1"]
    # AWS lists $LATEST with its qualified ARN.
    listed = [v["FunctionArn"] for v in first["Versions"]]
    assert listed == [f"{arn(name)}:$LATEST", f"{arn(name)}:1"]
    second = lam.list_versions_by_function(
        FunctionName=name, MaxItems=2, Marker=first["NextMarker"]
    )
    assert [v["Version"] for v in second["Versions"]] == ["2", "3"]
    assert "NextMarker" not in second
    pages = lam.get_paginator("list_versions_by_function").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 1}
    )
    assert [v["Version"] for page in pages for v in page["Versions"]] == ["$LATEST", "1", "2", "3"]

    everything = lam.get_paginator("list_functions").paginate(FunctionVersion="ALL")
    ours = [
        f["Version"] for page in everything for f in page["Functions"] if f["FunctionName"] == name
    ]
    assert ours == ["$LATEST", "1", "2", "3"]
    plain = lam.get_paginator("list_functions").paginate()
    assert [f["Version"] for p in plain for f in p["Functions"] if f["FunctionName"] == name] == [
        "$LATEST"
    ]
    listed = json.loads(aws_cli(server.endpoint, "lambda", "list-versions-by-function",
                                "--function-name", name).stdout)  # fmt: skip
    assert [v["Version"] for v in listed["Versions"]] == ["$LATEST", "1", "2", "3"]


def test_deleting_a_version(lam: Any) -> None:
    name = unique("delete-version")
    versioned(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    for version, aliases in (("1", "canary, live"), ("2", "canary")):
        expect_error(
            lambda v=version: lam.delete_function(FunctionName=name, Qualifier=v),  # type: ignore[misc]
            "ResourceConflictException",
            409,
            f"Unable to delete version because the following aliases reference it: [{aliases}]",
        )
    expect_error(
        lambda: lam.delete_function(FunctionName=name, Qualifier="$LATEST"),
        "InvalidParameterValueException",
        400,
        "$LATEST version cannot be deleted without deleting the function.",
    )
    lam.delete_alias(FunctionName=name, Name="canary")
    assert (
        lam.delete_function(FunctionName=name, Qualifier="2")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    gone = f"Function not found: {arn(name)}:2"
    expect_error(
        lambda: lam.get_function(FunctionName=name, Qualifier="2"),
        "ResourceNotFoundException", 404, gone,
    )  # fmt: skip
    expect_error(
        lambda: lam.invoke(FunctionName=name, Qualifier="2"), "ResourceNotFoundException", 404, gone
    )
    assert versions_of(lam, name) == ["$LATEST", "1"]
    assert invoke(lam, name, "live")[0] == "1"
    assert invoke(lam, name)[0] == "$LATEST"


def test_deleting_a_function_takes_its_versions_and_aliases(lam: Any) -> None:
    name = unique("recreated")
    versioned(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    invoke(lam, name, "live")
    lam.delete_function(FunctionName=name)

    deploy(lam, name, code("again"))
    assert versions_of(lam, name) == ["$LATEST"]
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    expect_error(
        lambda: lam.get_alias(FunctionName=name, Name="live"),
        "ResourceNotFoundException",
        404,
        f"Cannot find alias arn: {arn(name)}:live",
    )
    expect_error(
        lambda: lam.invoke(FunctionName=name, Qualifier="1"),
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn(name)}:1",
    )
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # numbering starts anew
    assert invoke(lam, name, "1")[1]["tag"] == "again"


# -- names and qualifiers -----------------------------------------------------------------

# FunctionName (a template), Qualifier, the version that answers, and the qualifier AWS
# then names in FunctionArn and the invoked ARN (the one asked for: an alias stays an alias).
NAME_FORMS: dict[str, tuple[str, str | None, str, str | None]] = {
    "name": ("{n}", None, "$LATEST", None),
    "name+Qualifier": ("{n}", "1", "1", "1"),
    "name+Qualifier=$LATEST": ("{n}", "$LATEST", "$LATEST", "$LATEST"),
    "name:version": ("{n}:1", None, "1", "1"),
    "name:alias": ("{n}:live", None, "2", "live"),
    "name+Qualifier=alias": ("{n}", "live", "2", "live"),
    "partial-arn": (ACCOUNT + ":function:{n}", None, "$LATEST", None),
    "partial-arn:version": (ACCOUNT + ":function:{n}:1", None, "1", "1"),
    "arn": ("{a}", None, "$LATEST", None),
    "arn:version": ("{a}:1", None, "1", "1"),
    "arn:alias": ("{a}:live", None, "2", "live"),
    "arn:version+same-Qualifier": ("{a}:1", "1", "1", "1"),
}


@pytest.fixture(scope="module")
def aliased(server: Server, two_versions: str) -> str:
    server.client().create_alias(FunctionName=two_versions, Name="live", FunctionVersion="2")
    return two_versions


@pytest.mark.parametrize("form", list(NAME_FORMS), ids=list(NAME_FORMS))
def test_every_name_form_reads_and_invokes_its_version(lam: Any, aliased: str, form: str) -> None:
    template, qualifier, version, asked = NAME_FORMS[form]
    function_name = template.format(n=aliased, a=arn(aliased))
    extra = {} if qualifier is None else {"Qualifier": qualifier}
    expected_arn = arn(aliased) if asked is None else f"{arn(aliased)}:{asked}"

    config = lam.get_function(FunctionName=function_name, **extra)["Configuration"]
    assert (config["Version"], config["FunctionArn"]) == (version, expected_arn)
    config = lam.get_function_configuration(FunctionName=function_name, **extra)
    assert (config["Version"], config["FunctionArn"]) == (version, expected_arn)
    executed, body = invoke(lam, function_name, qualifier)
    assert (executed, body["version"], body["arn"]) == (version, version, expected_arn)
    assert body["tag"] == ("one" if version == "1" else "two")


@pytest.mark.parametrize(
    "bad", ["bad name", "fn:1:2", "fn!x", "fn:", "arn:aws:lambda:us-east-1:0:function:fn"]
)
def test_malformed_names_are_refused_with_the_models_pattern(lam: Any, bad: str) -> None:
    pattern = lam.meta.service_model.shape_for("NamespacedFunctionName").metadata["pattern"]
    message = (
        f"1 validation error detected: Value '{bad}' at 'functionName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}"
    )
    for call in (lam.get_function, lam.get_function_configuration, lam.invoke):
        expect_error(lambda c=call: c(FunctionName=bad), "ValidationException", 400, message)  # type: ignore[misc]


def test_a_qualifier_that_contradicts_the_name_is_refused(lam: Any, two_versions: str) -> None:
    for function_name in (f"{two_versions}:1", f"{arn(two_versions)}:1"):
        for call in (lam.get_function, lam.get_function_configuration, lam.invoke):
            expect_error(
                lambda c=call, f=function_name: c(FunctionName=f, Qualifier="2"),  # type: ignore[misc]
                "InvalidParameterValueException",
                400,
                MIXED_QUALIFIERS,
            )


def test_versions_and_aliases_cannot_be_updated(lam: Any) -> None:
    name = unique("frozen")
    versioned(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    for target in (f"{name}:1", f"{arn(name)}:1", f"{name}:live"):
        expect_error(
            lambda t=target: lam.update_function_configuration(FunctionName=t, MemorySize=512),  # type: ignore[misc]
            "InvalidParameterValueException",
            400,
            ONLY_LATEST,
        )
        expect_error(
            lambda t=target: lam.update_function_code(FunctionName=t, ZipFile=make_zip(code("x"))),  # type: ignore[misc]
            "InvalidParameterValueException",
            400,
            ONLY_LATEST,
        )
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == revision
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["MemorySize"] == 128
    # `name:$LATEST` is the function itself, and may be updated.
    lam.update_function_configuration(FunctionName=f"{name}:$LATEST", MemorySize=512)
    assert wait_settled(lam, name)["MemorySize"] == 512


def test_versions_and_aliases_survive_a_restart(fresh_dir: Path) -> None:
    name = unique("durable")
    with run_server(fresh_dir) as server:
        lam = server.client()
        versioned(lam, name)
        lam.delete_function(FunctionName=name, Qualifier="2")
        change(lam, name, "three")
        lam.publish_version(FunctionName=name)
        alias = lam.create_alias(
            FunctionName=name,
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"3": 0.5}},
        )
    with run_server(fresh_dir) as server:
        lam = server.client()
        assert versions_of(lam, name) == ["$LATEST", "1", "3"]
        assert invoke(lam, name, "1")[1] == {
            "tag": "one",
            "version": "1",
            "arn": f"{arn(name)}:1",
            "stage": "a",
        }
        assert invoke(lam, name, "3")[1]["tag"] == "two"
        got = lam.get_alias(FunctionName=name, Name="live")
        assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
            k: v for k, v in alias.items() if k != "ResponseMetadata"
        }
        change(lam, name, "four")
        assert lam.publish_version(FunctionName=name)["Version"] == "4"  # not 2, not 3


# -- aliases ------------------------------------------------------------------------------


def _doc(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_alias_lifecycle(lam: Any, two_versions: str) -> None:
    name, alias = two_versions, unique("alias")
    created = lam.create_alias(
        FunctionName=name, Name=alias, FunctionVersion="1", Description="first"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert _doc(created) == {
        "AliasArn": f"{arn(name)}:{alias}",
        "Name": alias,
        "FunctionVersion": "1",
        "Description": "first",
        "RevisionId": created["RevisionId"],
    }
    assert _doc(lam.get_alias(FunctionName=name, Name=alias)) == _doc(created)

    expect_error(
        lambda: lam.update_alias(FunctionName=name, Name=alias, RevisionId="wrong"),
        "PreconditionFailedException",
        412,
        REVISION_MISMATCH,
    )
    updated = lam.update_alias(
        FunctionName=name,
        Name=alias,
        FunctionVersion="2",
        Description="moved",
        RevisionId=created["RevisionId"],
    )
    assert (updated["FunctionVersion"], updated["Description"]) == ("2", "moved")
    assert updated["RevisionId"] != created["RevisionId"]
    # GetFunction through the alias shows the version it points to, under the alias's ARN.
    config = lam.get_function(FunctionName=name, Qualifier=alias)["Configuration"]
    assert (config["Version"], config["FunctionArn"]) == ("2", f"{arn(name)}:{alias}")
    assert invoke(lam, name, alias) == (
        "2",
        {"tag": "two", "version": "2", "arn": f"{arn(name)}:{alias}", "stage": "b"},
    )

    assert (
        lam.delete_alias(FunctionName=name, Name=alias)["ResponseMetadata"]["HTTPStatusCode"] == 204
    )
    lam.delete_alias(FunctionName=name, Name=alias)  # AWS: deleting it again is fine
    expect_error(
        lambda: lam.get_alias(FunctionName=name, Name=alias),
        "ResourceNotFoundException",
        404,
        f"Cannot find alias arn: {arn(name)}:{alias}",
    )
    expect_error(
        lambda: lam.update_alias(FunctionName=name, Name=alias, Description="x"),
        "ResourceNotFoundException",
        404,
        f"Alias not found: {arn(name)}:{alias}",
    )
    expect_error(
        lambda: lam.invoke(FunctionName=name, Qualifier=alias),
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn(name)}:{alias}",
    )


def test_listing_aliases_pages_and_filters_by_version(lam: Any) -> None:
    name = unique("aliases")
    versioned(lam, name)
    targets = {"a-one": "1", "b-two": "2", "c-one": "1", "d-latest": "$LATEST", "e-two": "2"}
    for alias, version in targets.items():
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)

    first = lam.list_aliases(FunctionName=name, MaxItems=2)
    assert [a["Name"] for a in first["Aliases"]] == ["a-one", "b-two"]
    rest = lam.list_aliases(FunctionName=name, MaxItems=10, Marker=first["NextMarker"])
    assert [a["Name"] for a in rest["Aliases"]] == ["c-one", "d-latest", "e-two"]
    assert "NextMarker" not in rest
    pages = lam.get_paginator("list_aliases").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 1}
    )
    assert [a["Name"] for p in pages for a in p["Aliases"]] == sorted(targets)
    for version in ("1", "2", "$LATEST"):
        listed = lam.list_aliases(FunctionName=name, FunctionVersion=version)["Aliases"]
        assert [a["Name"] for a in listed] == sorted(a for a, v in targets.items() if v == version)


def test_alias_names_and_targets(lam: Any, two_versions: str) -> None:
    name = two_versions
    expect_error(
        lambda: lam.create_alias(FunctionName=name, Name="2024", FunctionVersion="1"),
        "ValidationException",
        400,
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
    )
    # An alias points to a version, never to another alias: the model's pattern says so.
    create_alias = lam.meta.service_model.operation_model("CreateAlias")
    version_pattern = create_alias.input_shape.members["FunctionVersion"].metadata["pattern"]
    other = unique("target")
    lam.create_alias(FunctionName=name, Name=other, FunctionVersion="1")
    expect_error(
        lambda: lam.create_alias(FunctionName=name, Name=unique("x"), FunctionVersion=other),
        "ValidationException",
        400,
        f"1 validation error detected: Value '{other}' at 'functionVersion' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {version_pattern}",
    )
    expect_error(
        lambda: lam.create_alias(FunctionName=name, Name=other, FunctionVersion="2"),
        "ResourceConflictException",
        409,
        f"Alias already exists: {arn(name)}:{other}",
    )


# (FunctionVersion, AdditionalVersionWeights) -> (code, status, message); {fn} is the ARN.
ROUTING_RULES: dict[str, tuple[str, dict[str, float], str, int, str]] = {
    "two-extra-versions": (
        "1", {"1": 0.8, "2": 0.2}, "InvalidParameterValueException", 400,
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
    ),
    "weight-above-one": (
        "1", {"2": 2}, "ValidationException", 400,
        "1 validation error detected: Value '{{2=2.0}}' at 'routingConfig.additionalVersion"
        "Weights' failed to satisfy constraint: Map value must satisfy constraint: [Member "
        "must have value less than or equal to 1.0, Member must have value greater than or "
        "equal to 0.0, Member must not be null]",
    ),
    "weight-below-zero": (
        "1", {"2": -1}, "ValidationException", 400,
        "1 validation error detected: Value '{{2=-1.0}}' at 'routingConfig.additionalVersion"
        "Weights' failed to satisfy constraint: Map value must satisfy constraint: [Member "
        "must have value less than or equal to 1.0, Member must have value greater than or "
        "equal to 0.0, Member must not be null]",
    ),
    "same-version-twice": (
        "1", {"1": 0.5}, "InvalidParameterValueException", 400,
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration.",
    ),
    "latest-with-weights": (
        "$LATEST", {"1": 0.5}, "InvalidParameterValueException", 400,
        "$LATEST is not supported for an alias pointing to more than 1 version",
    ),
    "latest-as-extra": (
        "1", {"$LATEST": 0.5}, "ValidationException", 400,
        "1 validation error detected: Value '{{$LATEST=0.5}}' at 'routingConfig.additional"
        "VersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 1024, Member must have length greater "
        "than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]",
    ),
    "missing-extra-version": (
        "1", {"10": 0.5}, "ResourceNotFoundException", 404, "Function not found: {fn}:10",
    ),
    "missing-target-version": (
        "10", {"2": 0.5}, "ResourceNotFoundException", 404, "Function not found: {fn}:10",
    ),
}  # fmt: skip


@pytest.mark.parametrize("rule", list(ROUTING_RULES), ids=list(ROUTING_RULES))
def test_routing_configuration_rules(server: Server, two_versions: str, rule: str) -> None:
    version, weights, error, status, message = ROUTING_RULES[rule]
    message = message.format(fn=arn(two_versions))
    lax = server.client(parameter_validation=False)
    routing = {"AdditionalVersionWeights": weights}
    fresh, existing = unique("routed"), unique("existing")
    lax.create_alias(FunctionName=two_versions, Name=existing, FunctionVersion="1")
    expect_error(
        lambda: lax.create_alias(
            FunctionName=two_versions, Name=fresh, FunctionVersion=version, RoutingConfig=routing
        ),
        error,
        status,
        message,
    )
    expect_error(
        lambda: lax.update_alias(
            FunctionName=two_versions,
            Name=existing,
            FunctionVersion=version,
            RoutingConfig=routing,
        ),
        error,
        status,
        message,
    )
    # Nothing was created or changed.
    assert outcome_of(lambda: lax.get_alias(FunctionName=two_versions, Name=fresh)).status == 404
    kept = lax.get_alias(FunctionName=two_versions, Name=existing)
    assert (kept["FunctionVersion"], "RoutingConfig" in kept) == ("1", False)


def _invoke_many(
    server: Server, path: str, count: int, threads: int
) -> list[tuple[str | None, Any]]:
    """`count` invokes over `threads` keep-alive connections: (executed version, answer)."""
    results: list[tuple[str | None, Any]] = []
    lock = threading.Lock()

    def worker(share: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        mine = []
        try:
            for _ in range(share):
                conn.request("POST", path, b"{}")
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, body
                mine.append((response.getheader("x-amz-executed-version"), orjson.loads(body)))
        finally:
            conn.close()
            with lock:
                results.extend(mine)

    workers = [
        threading.Thread(target=worker, args=(count // threads,), daemon=True)
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert len(results) == count // threads * threads
    return results


def test_weighted_alias_splits_invocations_by_weight(server: Server, lam: Any) -> None:
    name = unique("canary")
    versioned(lam, name)
    weight, total = 0.25, 2000
    lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": weight}},
    )
    path = f"/2015-03-31/functions/{name}/invocations?Qualifier=live"
    results = _invoke_many(server, path, total, threads=4)

    for executed, body in results:
        # The header says which version ran; the function agrees, and was invoked by alias.
        assert executed == body["version"]
        assert body["tag"] == {"1": "one", "2": "two"}[body["version"]]
        assert body["arn"] == f"{arn(name)}:live"
    counts = collections.Counter(executed for executed, _ in results)
    assert set(counts) == {"1", "2"}
    # A binomial count: within four standard deviations of total * weight.
    sigma = math.sqrt(total * weight * (1 - weight))
    assert abs(counts["2"] - total * weight) <= 4 * sigma, counts

    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert {e for e, _ in _invoke_many(server, path, 100, threads=2)} == {"1"}
    assert "RoutingConfig" not in lam.get_alias(FunctionName=name, Name="live")
    lam.update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}}
    )
    assert {e for e, _ in _invoke_many(server, path, 100, threads=2)} == {"2"}
