"""Get/PutRuntimeManagementConfig and RuntimeVersionConfig through boto3.

A runtime version ARN is AWS's form, `arn:aws:lambda:<region>::runtime:<64 hex>`, derived
as the SHA-256 of "<runtime>:<the interpreter's sys.version>" (RuntimeCatalog.version_arn):
the same for as long as the interpreter behind the runtime stays the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ember.runtimes import RuntimeCatalog
from tests.e2e.harness import Server, create_function, run_server

pytestmark = pytest.mark.e2e

RUNTIME_VERSION = re.compile(r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}")
FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
CODE = "def handler(event, context):\n    return 'ok'\n"


@pytest.fixture(scope="module")
def rm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("rm") / "data") as server:
        yield server


@pytest.fixture
def lam(rm_server: Server) -> Any:
    return rm_server.client()


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return dict(info.value.response["Error"])


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def test_runtime_version_arn_is_derived_from_the_interpreter(lam: Any) -> None:
    created = create_function(lam, "rm-arn", CODE, runtime="python3.11")
    arn = created["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert RUNTIME_VERSION.fullmatch(arn)
    assert arn == RuntimeCatalog.discover().version_arn("python3.11", "us-east-1")
    got = lam.get_function(FunctionName="rm-arn")["Configuration"]
    assert got["RuntimeVersionConfig"] == {"RuntimeVersionArn": arn}
    config = lam.get_function_configuration(FunctionName="rm-arn")
    assert config["RuntimeVersionConfig"] == {"RuntimeVersionArn": arn}
    version = lam.publish_version(FunctionName="rm-arn")
    assert version["RuntimeVersionConfig"] == {"RuntimeVersionArn": arn}
    other = lam.get_function_configuration(FunctionName="rm-arn", Qualifier="1")
    assert other["RuntimeVersionConfig"] == {"RuntimeVersionArn": arn}


def test_modes_as_aws_answers_them(lam: Any) -> None:
    create_function(lam, "rm-modes", CODE)
    arn = lam.get_function(FunctionName="rm-modes")["Configuration"]["RuntimeVersionConfig"][
        "RuntimeVersionArn"
    ]
    # Lambda's default: Auto, and no RuntimeVersionArn outside Manual.
    assert _strip(lam.get_runtime_management_config(FunctionName="rm-modes")) == {
        "UpdateRuntimeOn": "Auto",
        "FunctionArn": FN_ARN + "rm-modes",
    }
    manual = lam.put_runtime_management_config(
        FunctionName="rm-modes", UpdateRuntimeOn="Manual", RuntimeVersionArn=arn
    )
    assert _strip(manual) == {
        "UpdateRuntimeOn": "Manual",
        "FunctionArn": FN_ARN + "rm-modes",
        "RuntimeVersionArn": arn,
    }
    assert _strip(lam.get_runtime_management_config(FunctionName="rm-modes")) == _strip(manual)
    updated = lam.put_runtime_management_config(
        FunctionName="rm-modes", UpdateRuntimeOn="FunctionUpdate"
    )
    assert _strip(updated) == {
        "UpdateRuntimeOn": "FunctionUpdate",
        "FunctionArn": FN_ARN + "rm-modes",
    }
    asked = lam.get_runtime_management_config(FunctionName="rm-modes", Qualifier="$LATEST")
    assert asked["UpdateRuntimeOn"] == "FunctionUpdate"
    assert asked["FunctionArn"] == FN_ARN + "rm-modes:$LATEST"

    # A published version has its own configuration (Auto until one is put).
    lam.publish_version(FunctionName="rm-modes")
    one = lam.get_runtime_management_config(FunctionName="rm-modes", Qualifier="1")
    assert _strip(one) == {"UpdateRuntimeOn": "Auto", "FunctionArn": FN_ARN + "rm-modes:1"}
    lam.put_runtime_management_config(
        FunctionName="rm-modes", Qualifier="1", UpdateRuntimeOn="Manual", RuntimeVersionArn=arn
    )
    assert (
        lam.get_runtime_management_config(FunctionName="rm-modes", Qualifier="1")[
            "RuntimeVersionArn"
        ]
        == arn
    )
    assert lam.get_runtime_management_config(FunctionName="rm-modes")["UpdateRuntimeOn"] == (
        "FunctionUpdate"
    )


def test_errors(lam: Any) -> None:
    create_function(lam, "rm-err", CODE)
    missing = _error(lambda: lam.get_runtime_management_config(FunctionName="rm-nofn"))
    assert (missing["Code"], missing["Message"]) == (
        "ResourceNotFoundException",
        f"Function not found: {FN_ARN}rm-nofn",
    )
    no_version = _error(
        lambda: lam.get_runtime_management_config(FunctionName="rm-err", Qualifier="7")
    )
    assert (no_version["Code"], no_version["Message"]) == (
        "ResourceNotFoundException",
        f"Function not found: {FN_ARN}rm-err:7",
    )
    no_arn = _error(
        lambda: lam.put_runtime_management_config(FunctionName="rm-err", UpdateRuntimeOn="Manual")
    )
    assert no_arn["Code"] == "InvalidParameterValueException"
    assert "RuntimeVersionArn" in no_arn["Message"]
    stray = _error(
        lambda: lam.put_runtime_management_config(
            FunctionName="rm-err",
            UpdateRuntimeOn="Auto",
            RuntimeVersionArn="arn:aws:lambda:us-east-1::runtime:" + "0" * 64,
        )
    )
    assert stray["Code"] == "InvalidParameterValueException"
    bad_mode = _error(
        lambda: lam.put_runtime_management_config(FunctionName="rm-err", UpdateRuntimeOn="Never")
    )
    assert bad_mode["Code"] == "ValidationException"
    assert (
        "Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]"
        in (bad_mode["Message"])
    )


def test_configuration_survives_restart_and_goes_with_the_function(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data) as server:
        lam = server.client()
        create_function(lam, "rm-kept", CODE)
        lam.put_runtime_management_config(FunctionName="rm-kept", UpdateRuntimeOn="FunctionUpdate")
        arn = lam.get_function(FunctionName="rm-kept")["Configuration"]["RuntimeVersionConfig"]
    with run_server(data) as server:
        lam = server.client()
        assert lam.get_runtime_management_config(FunctionName="rm-kept")["UpdateRuntimeOn"] == (
            "FunctionUpdate"
        )
        # Same interpreter, same runtime version.
        assert (
            lam.get_function(FunctionName="rm-kept")["Configuration"]["RuntimeVersionConfig"] == arn
        )
        lam.delete_function(FunctionName="rm-kept")
        create_function(lam, "rm-kept", CODE)
        assert lam.get_runtime_management_config(FunctionName="rm-kept")["UpdateRuntimeOn"] == (
            "Auto"
        )
