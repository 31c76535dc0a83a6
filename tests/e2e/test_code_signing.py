"""Code-signing configurations through boto3, against AWS's recorded answers
(shared/conformance: TestCodeSigningConfig), and what Enforce means on Ember.

Differs from AWS on purpose: Enforce refuses every deployment, because a zip upload
carries no signature to verify (see README, **Code signing**).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import Server, create_function, make_zip, run_server

pytestmark = pytest.mark.e2e

PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/test"
CSC_ARN = re.compile(r"arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-[a-z0-9]{17}")
MISSING = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"
CODE = "def handler(event, context):\n    return 'ok'\n"


@pytest.fixture(scope="module")
def signing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("csc") / "data") as server:
        yield server


@pytest.fixture
def lam(signing_server: Server) -> Any:
    return signing_server.client()


def _error(call: Any) -> dict[str, Any]:
    """The error as boto3 parses it, with the body's `Type` where there is one."""
    with pytest.raises(ClientError) as info:
        call()
    found = dict(info.value.response["Error"])
    if "Type" in info.value.response:
        found["Type"] = info.value.response["Type"]
    return found


def _create(lam: Any, policy: str = "Enforce") -> dict[str, Any]:
    answer = lam.create_code_signing_config(
        Description="Testing CodeSigning Config",
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    config: dict[str, Any] = answer["CodeSigningConfig"]
    return config


def test_function_code_signing_config_lifecycle(lam: Any) -> None:
    """AWS's recorded sequence (test_function_code_signing_config), member by member."""
    config = _create(lam)
    arn = config["CodeSigningConfigArn"]
    assert CSC_ARN.fullmatch(arn)
    assert arn.endswith(":" + config["CodeSigningConfigId"])
    assert sorted(config) == [
        "AllowedPublishers", "CodeSigningConfigArn", "CodeSigningConfigId",
        "CodeSigningPolicies", "Description", "LastModified",
    ]  # fmt: skip
    assert config["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}

    updated = lam.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"}
    )["CodeSigningConfig"]
    assert updated["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert updated["Description"] == "Testing CodeSigning Config"  # kept
    got = lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert got == updated

    create_function(lam, "csc-fn", CODE)
    put = lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName="csc-fn")
    assert {k: put[k] for k in ("CodeSigningConfigArn", "FunctionName")} == {
        "CodeSigningConfigArn": arn,
        "FunctionName": "csc-fn",
    }
    got_fn = lam.get_function_code_signing_config(FunctionName="csc-fn")
    assert got_fn["CodeSigningConfigArn"] == arn
    assert got_fn["FunctionName"] == "csc-fn"
    listed = lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    assert listed["FunctionArns"] == ["arn:aws:lambda:us-east-1:000000000000:function:csc-fn"]
    assert arn in [
        c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]
    ]

    in_use = _error(lambda: lam.delete_code_signing_config(CodeSigningConfigArn=arn))
    assert in_use["Code"] == "ResourceConflictException"
    assert "csc-fn" in in_use["Message"]

    gone = lam.delete_function_code_signing_config(FunctionName="csc-fn")
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204
    deleted = lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    missing = _error(lambda: lam.get_code_signing_config(CodeSigningConfigArn=arn))
    assert missing["Code"] == "ResourceNotFoundException"
    assert missing["Message"] == f"The Lambda code signing configuration {arn} can not be found."
    lam.delete_function(FunctionName="csc-fn")


def test_not_found_answers_as_aws(lam: Any) -> None:
    """AWS's recorded errors and empty answers (test_code_signing_not_found_excs)."""
    arn = _create(lam)["CodeSigningConfigArn"]
    create_function(lam, "csc-plain", CODE)
    fn_missing = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:csc-nofn"
    csc_missing = (
        "The code signing configuration cannot be found. Check that the provided "
        f"configuration is not deleted: {MISSING}."
    )
    not_found = f"The Lambda code signing configuration {MISSING} can not be found."
    cases = [
        (lambda: lam.delete_code_signing_config(CodeSigningConfigArn=MISSING),
         "ResourceNotFoundException", not_found),
        (lambda: lam.delete_function_code_signing_config(FunctionName="csc-nofn"),
         "ResourceNotFoundException", fn_missing),
        (lambda: lam.put_function_code_signing_config(
            CodeSigningConfigArn=arn, FunctionName="csc-nofn"),
         "ResourceNotFoundException", fn_missing),
        (lambda: lam.put_function_code_signing_config(
            CodeSigningConfigArn=MISSING, FunctionName="csc-plain"),
         "CodeSigningConfigNotFoundException", csc_missing),
        (lambda: lam.put_function_code_signing_config(
            CodeSigningConfigArn=MISSING, FunctionName="csc-nofn"),
         "CodeSigningConfigNotFoundException", csc_missing),
        (lambda: lam.update_code_signing_config(
            CodeSigningConfigArn=MISSING, Description="new"),
         "ResourceNotFoundException", not_found),
        (lambda: lam.update_code_signing_config(CodeSigningConfigArn=MISSING),
         "ResourceNotFoundException", not_found),
        (lambda: lam.get_code_signing_config(CodeSigningConfigArn=MISSING),
         "ResourceNotFoundException", not_found),
        (lambda: lam.get_function_code_signing_config(FunctionName="csc-nofn"),
         "ResourceNotFoundException", fn_missing),
        (lambda: lam.list_functions_by_code_signing_config(CodeSigningConfigArn=MISSING),
         "ResourceNotFoundException", not_found),
    ]  # fmt: skip
    for call, code, message in cases:
        error = _error(call)
        assert (error["Code"], error["Message"]) == (code, message)
        # AWS's recorded bodies: `Type: User` except for a missing configuration itself.
        assert error.get("Type") == (None if message == not_found else "User")

    nothing = lam.delete_function_code_signing_config(FunctionName="csc-plain")
    assert nothing["ResponseMetadata"]["HTTPStatusCode"] == 204
    unchanged = lam.update_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert unchanged["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    empty = lam.get_function_code_signing_config(FunctionName="csc-plain")
    assert "CodeSigningConfigArn" not in empty  # AWS answers `{}`
    listed = lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    assert listed["FunctionArns"] == []
    lam.delete_function(FunctionName="csc-plain")
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)


@pytest.mark.parametrize(
    ("publishers", "policies"),
    [
        ({"SigningProfileVersionArns": []}, None),
        ({"SigningProfileVersionArns": [f"{PROFILE}{i}" for i in range(21)]}, None),
        ({"SigningProfileVersionArns": [PROFILE]}, {"UntrustedArtifactOnDeployment": "Block"}),
    ],
    ids=["no-profile", "21-profiles", "bad-policy"],
)
def test_model_constraints_are_checked(
    signing_server: Server, publishers: Any, policies: Any
) -> None:
    lam = signing_server.client(parameter_validation=False)  # what boto3 would refuse to send
    extra = {"CodeSigningPolicies": policies} if policies else {}
    error = _error(lambda: lam.create_code_signing_config(AllowedPublishers=publishers, **extra))
    assert error["Code"] == "ValidationException"


def test_enforce_refuses_deployments_warn_lets_them_through(lam: Any) -> None:
    enforce = _create(lam, "Enforce")["CodeSigningConfigArn"]
    warn = _create(lam, "Warn")["CodeSigningConfigArn"]
    refused = _error(lambda: create_function(lam, "csc-enf", CODE, CodeSigningConfigArn=enforce))
    assert refused["Code"] == "CodeVerificationFailedException"
    assert "cannot verify code signatures" in refused["Message"]
    assert _error(lambda: lam.get_function(FunctionName="csc-enf"))["Code"] == (
        "ResourceNotFoundException"
    )

    create_function(lam, "csc-warn", CODE, CodeSigningConfigArn=warn)
    assert lam.get_function_code_signing_config(FunctionName="csc-warn")[
        "CodeSigningConfigArn"
    ] == (warn)
    lam.update_function_code(FunctionName="csc-warn", ZipFile=make_zip({"app.py": CODE}))
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="csc-warn", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert lam.invoke(FunctionName="csc-warn")["Payload"].read() == b'"ok"'

    lam.update_code_signing_config(
        CodeSigningConfigArn=warn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"}
    )
    blocked = _error(
        lambda: lam.update_function_code(
            FunctionName="csc-warn", ZipFile=make_zip({"app.py": CODE})
        )
    )
    assert blocked["Code"] == "CodeVerificationFailedException"

    # The function goes, and its link with it: the config is free to delete.
    lam.delete_function(FunctionName="csc-warn")
    lam.delete_code_signing_config(CodeSigningConfigArn=warn)
    lam.delete_code_signing_config(CodeSigningConfigArn=enforce)
    missing = _error(lambda: create_function(lam, "csc-x", CODE, CodeSigningConfigArn=MISSING))
    assert missing["Code"] == "CodeSigningConfigNotFoundException"


def test_configs_and_links_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data) as server:
        lam = server.client()
        arn = _create(lam, "Warn")["CodeSigningConfigArn"]
        create_function(lam, "csc-kept", CODE, CodeSigningConfigArn=arn)
    with run_server(data) as server:
        lam = server.client()
        assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"][
            "CodeSigningPolicies"
        ] == {"UntrustedArtifactOnDeployment": "Warn"}
        assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)[
            "FunctionArns"
        ] == ["arn:aws:lambda:us-east-1:000000000000:function:csc-kept"]
