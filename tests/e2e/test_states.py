"""Function states as AWS shows them, followed with boto3's own waiters: Pending at create,
InProgress during an update (with its reason code), and the members AWS includes or omits
in each answer (LastUpdateStatus, Environment, the list views, x-amzn-RequestId)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.apicalls import HANDLER_CODE, RUNTIME, arn, unique
from tests.e2e.harness import ROLE, make_zip

pytestmark = pytest.mark.e2e

WAIT = {"Delay": 1, "MaxAttempts": 30}
STATE_MEMBERS = (
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
)


def _create(lam: Any, name: str, files: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return lam.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip(files or {"app.py": HANDLER_CODE})},
        **kwargs,
    )


def _many_files() -> dict[str, str]:
    """A package whose unpacking takes long enough to be seen in progress."""
    files = {f"pkg/m{i}.py": "x = 1\n" for i in range(2000)}
    files["app.py"] = HANDLER_CODE
    return files


def test_create_answers_pending_and_the_active_waiter_sees_it_through(lam: Any) -> None:
    name = unique("pending")
    created = _create(lam, name, _many_files(), Publish=True)
    assert created["State"] == "Pending"
    assert created["StateReason"] == "The function is being created."
    assert created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created  # AWS shows none before the first settles
    # Publish=True does not wait: the answer names the version to be, still Pending.
    assert (created["Version"], created["FunctionArn"]) == ("1", f"{arn(name)}:1")

    right_after = lam.get_function(FunctionName=name)["Configuration"]
    if right_after["State"] == "Pending":
        assert "LastUpdateStatus" not in right_after
    else:
        assert right_after["State"] == "Active"

    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    active = lam.get_function(FunctionName=name)["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert not {"StateReason", "StateReasonCode", "LastUpdateStatusReasonCode"} & set(active)
    # The version Publish=True promised exists once the function is Active.
    version = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert (version["Version"], version["State"]) == ("1", "Active")
    assert version["CodeSha256"] == created["CodeSha256"]


def test_an_update_in_progress_says_why_and_the_updated_waiter_sees_it_through(
    lam: Any,
) -> None:
    name = unique("updating")
    _create(lam, name)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)

    updated = lam.update_function_code(FunctionName=name, ZipFile=make_zip(_many_files()))
    assert updated["State"] == "Active"
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReason"] == "The function is being created."
    assert updated["LastUpdateStatusReasonCode"] == "Creating"

    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    configured = lam.update_function_configuration(FunctionName=name, Description="next")
    assert (configured["LastUpdateStatus"], configured["LastUpdateStatusReasonCode"]) == (
        "InProgress",
        "Creating",
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    done = lam.get_function_configuration(FunctionName=name)
    assert (done["LastUpdateStatus"], done["Description"]) == ("Successful", "next")
    assert "LastUpdateStatusReasonCode" not in done


def test_environment_is_shown_as_given(lam: Any) -> None:
    none, empty = unique("env-none"), unique("env-empty")
    assert "Environment" not in _create(lam, none)
    created = _create(lam, empty, Environment={"Variables": {}})
    assert created["Environment"] == {"Variables": {}}
    for name in (none, empty):
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    assert "Environment" not in lam.get_function_configuration(FunctionName=none)
    got = lam.get_function_configuration(FunctionName=empty)
    assert got["Environment"] == {"Variables": {}}


def test_list_views_omit_the_state_members_and_qualify_latest(lam: Any) -> None:
    name = unique("listed")
    _create(lam, name)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    lam.publish_version(FunctionName=name)

    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["FunctionArn"] for v in versions] == [f"{arn(name)}:$LATEST", f"{arn(name)}:1"]
    pages = lam.get_paginator("list_functions").paginate()
    listed = [f for page in pages for f in page["Functions"] if f["FunctionName"] == name]
    assert len(listed) == 1
    assert listed[0]["FunctionArn"] == arn(name)
    # AWS: use GetFunction for these; the list operations leave them out.
    for config in (*versions, *listed):
        assert not set(STATE_MEMBERS) & set(config)
        assert "RuntimeVersionConfig" not in config


def test_every_control_plane_answer_carries_a_request_id(lam: Any) -> None:
    name = unique("request-id")
    answers = [
        _create(lam, name),
        lam.list_functions(),
        lam.get_account_settings(),
        lam.get_function(FunctionName=name),
        lam.list_versions_by_function(FunctionName=name),
        lam.delete_function(FunctionName=name),
    ]
    for answer in answers:
        headers = answer["ResponseMetadata"]["HTTPHeaders"]
        assert headers.get("x-amzn-requestid")
        assert answer["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]
    ids = {answer["ResponseMetadata"]["RequestId"] for answer in answers}
    assert len(ids) == len(answers)


def test_published_layers_count_toward_total_code_size(lam: Any) -> None:
    before = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    layer = lam.publish_layer_version(
        LayerName=unique("sized"), Content={"ZipFile": make_zip({"python/m.py": "x = 1\n"})}
    )
    after = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    assert after - before == layer["Content"]["CodeSize"]
    lam.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=layer["Version"])
    assert lam.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before
