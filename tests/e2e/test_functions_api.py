"""The control plane end to end: a real `ember serve` driven by boto3, raw HTTP and the AWS
CLI. Each bad-input test checks the AWS error code, HTTP status and message, and that the
refused call changed nothing."""

from __future__ import annotations

import base64
import functools
import hashlib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ember.runtimes import RuntimeCatalog
from tests.e2e.apicalls import (
    ARN_PREFIX,
    FILE,
    HANDLER_CODE,
    RUNTIME,
    SYMLINK,
    arn,
    deploy,
    expect_error,
    function_names,
    outcome_of,
    raw_request,
    unique,
    wait_settled,
    zip_with_links,
)
from tests.e2e.harness import ROLE, Server, aws_cli, make_zip, run_server

pytestmark = pytest.mark.e2e

MAX_ZIPPED = 52_428_800
CREATE_BODY_LIMIT = 70_167_211
# botocore's FunctionName (writes) and NamespacedFunctionName (reads, Invoke) patterns.
WRITE_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
READ_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
AWS_RUNTIMES = (
    "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2"
)
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def validation(value: str, field: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value {value} at '{field}' failed to satisfy "
        f"constraint: {constraint}"
    )


@pytest.fixture
def lax(server: Server) -> Any:
    """A boto3 client that sends what botocore would refuse client-side (out of range,
    missing members), so the server's own checks answer."""
    return server.client(parameter_validation=False)


@pytest.fixture
def fn(lam: Any) -> str:
    """A fresh Active function on the shared server."""
    name = unique("fn")
    deploy(lam, name)
    return name


def create_args(name: str, zip_file: bytes | None = None, /, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_file or make_zip({"app.py": HANDLER_CODE})},
    }
    args.update(overrides)
    return args


# -- the happy paths ------------------------------------------------------------------------


def test_create_answers_201_with_the_configuration_then_goes_active(lam: Any) -> None:
    name = unique("create")
    package = make_zip({"app.py": HANDLER_CODE})
    created = lam.create_function(**create_args(name, package))

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["CodeSha256"] == sha256_b64(package)
    assert created["CodeSize"] == len(package)
    assert (created["Runtime"], created["Handler"], created["Role"]) == (
        RUNTIME,
        "app.handler",
        ROLE,
    )
    assert (created["Timeout"], created["MemorySize"]) == (3, 128)
    assert created["Version"] == "$LATEST"
    assert (created["State"], created["StateReasonCode"]) == ("Pending", "Creating")
    assert "LastUpdateStatus" not in created  # AWS shows none until the function is Active
    assert created["RevisionId"]

    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 15}
    )
    active = lam.get_function_configuration(FunctionName=name)
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert active["CodeSha256"] == created["CodeSha256"]


def test_get_function_serves_the_exact_zip_at_code_location(lam: Any, server: Server) -> None:
    name = unique("get")
    package = make_zip({"app.py": HANDLER_CODE, "lib/data.bin": bytes(range(256))})
    deploy(lam, name, {"app.py": HANDLER_CODE, "lib/data.bin": bytes(range(256))})

    got = lam.get_function(FunctionName=name)
    location = got["Code"]["Location"]
    assert location.startswith(server.endpoint + "/")
    served = download(location)
    assert sha256_b64(served) == got["Configuration"]["CodeSha256"]
    assert len(served) == got["Configuration"]["CodeSize"] == len(package)
    assert served == package  # make_zip is deterministic for the same entries


def test_get_function_configuration_matches_get_function(lam: Any, fn: str) -> None:
    configuration = lam.get_function_configuration(FunctionName=fn)
    configuration.pop("ResponseMetadata")
    assert lam.get_function(FunctionName=fn)["Configuration"] == configuration
    # every form AWS accepts names the same function
    for form in (arn(fn), f"000000000000:function:{fn}", f"{fn}:$LATEST"):
        assert lam.get_function_configuration(FunctionName=form)["FunctionName"] == fn


def test_list_functions_pages_with_max_items(tmp_path: Path) -> None:
    # A server of its own, so that exactly these seven functions are listed.
    with run_server(tmp_path / "data") as own:
        lam = own.client()
        names = sorted(unique(f"page{i}") for i in range(7))
        for name in names:
            lam.create_function(**create_args(name))

        pages: list[list[str]] = []
        marker: str | None = None
        while True:
            page = lam.list_functions(MaxItems=3, **({"Marker": marker} if marker else {}))
            pages.append([f["FunctionName"] for f in page["Functions"]])
            marker = page.get("NextMarker")
            if not marker:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert sorted(n for p in pages for n in p) == names

        paginated = list(
            lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 3})
        )
        assert len(paginated) == 3
        listed = [f["FunctionName"] for p in paginated for f in p["Functions"]]
        assert sorted(listed) == names


def test_update_function_code_changes_hash_and_revision(lam: Any, fn: str) -> None:
    before = lam.get_function_configuration(FunctionName=fn)
    package = make_zip({"app.py": HANDLER_CODE + "# v2\n"})

    stale = outcome_of(
        lambda: lam.update_function_code(FunctionName=fn, ZipFile=package, RevisionId="stale")
    )
    assert (stale.code, stale.status, stale.message) == (
        "PreconditionFailedException",
        412,
        REVISION_MISMATCH,
    )
    unchanged = lam.get_function_configuration(FunctionName=fn)
    assert (unchanged["CodeSha256"], unchanged["RevisionId"]) == (
        before["CodeSha256"],
        before["RevisionId"],
    )

    updated = lam.update_function_code(
        FunctionName=fn, ZipFile=package, RevisionId=before["RevisionId"]
    )
    assert updated["CodeSha256"] == sha256_b64(package) != before["CodeSha256"]
    assert updated["CodeSize"] == len(package)
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["LastUpdateStatus"] == "InProgress"

    lam.get_waiter("function_updated_v2").wait(
        FunctionName=fn, WaiterConfig={"Delay": 1, "MaxAttempts": 15}
    )
    after = lam.get_function(FunctionName=fn)
    assert after["Configuration"]["LastUpdateStatus"] == "Successful"
    assert download(after["Code"]["Location"]) == package


def test_update_function_configuration(lam: Any, fn: str) -> None:
    before = lam.get_function_configuration(FunctionName=fn)
    changes = {
        "Environment": {"Variables": {"GREETING": "hello", "EMPTY": ""}},
        "Description": "updated by the e2e suite",
        "Timeout": 42,
        "MemorySize": 512,
        "Handler": "app.other",
    }

    stale = outcome_of(
        lambda: lam.update_function_configuration(FunctionName=fn, RevisionId="stale", **changes)
    )
    assert (stale.code, stale.status) == ("PreconditionFailedException", 412)
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]

    updated = lam.update_function_configuration(
        FunctionName=fn, RevisionId=before["RevisionId"], **changes
    )
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["CodeSha256"] == before["CodeSha256"]
    settled = wait_settled(lam, fn)
    for config in (updated, settled):
        assert config["Environment"] == changes["Environment"]
        assert config["Description"] == changes["Description"]
        assert (config["Timeout"], config["MemorySize"], config["Handler"]) == (
            42,
            512,
            "app.other",
        )
    assert settled["LastUpdateStatus"] == "Successful"


def test_delete_function_then_it_is_gone(lam: Any, fn: str) -> None:
    deleted = lam.delete_function(FunctionName=fn)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    not_found = f"Function not found: {arn(fn)}"
    expect_error(
        lambda: lam.get_function(FunctionName=fn), "ResourceNotFoundException", 404, not_found
    )
    expect_error(
        lambda: lam.delete_function(FunctionName=fn), "ResourceNotFoundException", 404, not_found
    )
    assert fn not in function_names(lam)


def test_account_settings_count_functions_and_code(lam: Any) -> None:
    before = lam.get_account_settings()["AccountUsage"]
    name = unique("usage")
    package = make_zip({"app.py": HANDLER_CODE, "pad.txt": "x" * 1000})
    lam.create_function(**create_args(name, package))

    during = lam.get_account_settings()
    assert during["AccountUsage"]["FunctionCount"] == before["FunctionCount"] + 1
    assert during["AccountUsage"]["TotalCodeSize"] == before["TotalCodeSize"] + len(package)
    assert during["AccountLimit"]["CodeSizeZipped"] == MAX_ZIPPED
    assert during["AccountLimit"]["CodeSizeUnzipped"] == 262_144_000

    wait_settled(lam, name)
    lam.delete_function(FunctionName=name)
    assert lam.get_account_settings()["AccountUsage"] == before


def test_duplicate_create_conflicts_and_keeps_the_original(lam: Any, fn: str) -> None:
    before = lam.get_function_configuration(FunctionName=fn)
    other = make_zip({"app.py": HANDLER_CODE + "# another\n"})
    expect_error(
        lambda: lam.create_function(**create_args(fn, other, Timeout=9)),
        "ResourceConflictException",
        409,
        f"Function already exist: {fn}",
    )
    after = lam.get_function_configuration(FunctionName=fn)
    assert (after["RevisionId"], after["CodeSha256"], after["Timeout"]) == (
        before["RevisionId"],
        before["CodeSha256"],
        3,
    )


def test_functions_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = unique("durable")
    package = make_zip({"app.py": HANDLER_CODE})
    with run_server(data) as first:
        lam = first.client()
        lam.create_function(**create_args(name, package, Environment={"Variables": {"KEY": "v"}}))
        before = wait_settled(lam, name)

    with run_server(data) as second:
        lam = second.client()
        after = lam.get_function(FunctionName=name)
        config = after["Configuration"]
        assert (config["CodeSha256"], config["RevisionId"]) == (
            before["CodeSha256"],
            before["RevisionId"],
        )
        assert config["State"] == "Active"
        assert config["Environment"] == {"Variables": {"KEY": "v"}}
        assert after["Code"]["Location"].startswith(second.endpoint + "/")
        assert download(after["Code"]["Location"]) == package
        assert function_names(lam) == [name]


def test_aws_cli_create_get_list_delete(server: Server, lam: Any, tmp_path: Path) -> None:
    name = unique("cli")
    package = make_zip({"app.py": HANDLER_CODE})
    (tmp_path / "fn.zip").write_bytes(package)
    common = ("--output", "json")

    created = aws_cli(
        server.endpoint,
        "lambda", "create-function", "--function-name", name, "--runtime", RUNTIME,
        "--handler", "app.handler", "--role", ROLE,
        "--zip-file", f"fileb://{tmp_path / 'fn.zip'}", *common,
    )  # fmt: skip
    assert f'"FunctionArn": "{arn(name)}"' in created.stdout
    assert f'"CodeSha256": "{sha256_b64(package)}"' in created.stdout
    wait_settled(lam, name)

    got = aws_cli(server.endpoint, "lambda", "get-function", "--function-name", name, *common)
    assert '"State": "Active"' in got.stdout
    assert f"{server.endpoint}/" in got.stdout

    listed = aws_cli(server.endpoint, "lambda", "list-functions", *common)
    assert f'"FunctionName": "{name}"' in listed.stdout

    aws_cli(server.endpoint, "lambda", "delete-function", "--function-name", name)
    gone = aws_cli(server.endpoint, "lambda", "get-function", "--function-name", name, check=False)
    assert gone.returncode != 0
    assert "ResourceNotFoundException" in gone.stderr
    assert f"Function not found: {arn(name)}" in gone.stderr


# -- bad input: refused with AWS's error, and nothing changes -------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"MemorySize": "lots"},
            validation("'lots'", "memorySize", "Member must be of type integer"),
        ),
        ({"Timeout": True}, validation("'true'", "timeout", "Member must be of type integer")),
        ({"Environment": []}, validation("'[]'", "environment", "Member must be a structure")),
    ],
    ids=["memory-string", "timeout-bool", "environment-list"],
)
def test_wrong_json_types_are_refused(
    server: Server, lam: Any, fn: str, body: dict[str, Any], message: str
) -> None:
    before = lam.get_function_configuration(FunctionName=fn)
    update = raw_request(server, "PUT", f"/2015-03-31/functions/{fn}/configuration", body)
    assert (update.status, update.error_type) == (400, "ValidationException")
    assert update.body["message"] == message
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]

    names = function_names(lam)
    name = unique("typed")
    document = {
        **create_args(name),
        "Code": {"ZipFile": base64.b64encode(make_zip({"app.py": HANDLER_CODE})).decode()},
        **body,
    }
    create = raw_request(server, "POST", "/2015-03-31/functions", document)
    assert (create.status, create.error_type) == (400, "ValidationException")
    assert create.body["message"] == message
    assert function_names(lam) == names


def test_body_that_is_not_json_is_refused(server: Server, lam: Any) -> None:
    names = function_names(lam)
    answer = raw_request(server, "POST", "/2015-03-31/functions", b"{not json")
    assert (answer.status, answer.error_type) == (400, "InvalidRequestContentException")
    assert answer.body["message"].startswith("Could not parse request body into json: ")
    assert function_names(lam) == names


@pytest.mark.parametrize(
    ("missing", "code", "message"),
    [
        (
            ("Role",),
            "ValidationException",
            validation("null", "role", "Member must not be null"),
        ),
        (
            ("Code",),
            "ValidationException",
            validation("null", "code", "Member must not be null"),
        ),
        (
            ("Runtime", "Handler"),
            "InvalidParameterValueException",
            "Runtime and Handler are mandatory parameters for functions created with "
            "deployment packages.",
        ),
        (
            ("Handler",),
            "InvalidParameterValueException",
            "Runtime and Handler are mandatory parameters for functions created with "
            "deployment packages.",
        ),
    ],
    ids=["no-role", "no-code", "no-runtime-handler", "no-handler"],
)
def test_missing_required_members(
    lam: Any, lax: Any, missing: tuple[str, ...], code: str, message: str
) -> None:
    names = function_names(lam)
    args = {k: v for k, v in create_args(unique("missing")).items() if k not in missing}
    expect_error(lambda: lax.create_function(**args), code, 400, message)
    assert function_names(lam) == names


def test_unknown_function_on_every_operation(lam: Any) -> None:
    name = unique("ghost")
    not_found = f"Function not found: {arn(name)}"
    package = make_zip({"app.py": HANDLER_CODE})
    calls = {
        "GetFunction": lambda: lam.get_function(FunctionName=name),
        "GetFunctionConfiguration": lambda: lam.get_function_configuration(FunctionName=name),
        "UpdateFunctionCode": lambda: lam.update_function_code(FunctionName=name, ZipFile=package),
        "UpdateFunctionConfiguration": lambda: lam.update_function_configuration(
            FunctionName=name, Timeout=5
        ),
        "DeleteFunction": lambda: lam.delete_function(FunctionName=name),
        "Invoke": lambda: lam.invoke(FunctionName=name, Payload=b"{}"),
        "GetFunction by ARN": lambda: lam.get_function(FunctionName=arn(name)),
    }
    for operation, call in calls.items():
        got = outcome_of(call)
        assert (got.code, got.status, got.message) == (
            "ResourceNotFoundException",
            404,
            not_found,
        ), operation
        assert got.fields.get("Type") == "User", operation
    assert name not in function_names(lam)


@pytest.mark.parametrize("bad", ["bad name!", "a:b:c", "arn:aws:lambda:us-east-1:1234:function:f"])
def test_malformed_names_quote_the_operation_pattern(lam: Any, fn: str, bad: str) -> None:
    names = function_names(lam)
    expect_error(
        lambda: lam.create_function(**create_args(bad)),
        "ValidationException",
        400,
        validation(
            f"'{bad}'",
            "functionName",
            f"Member must satisfy regular expression pattern: {WRITE_NAME_PATTERN}",
        ),
    )
    expect_error(
        lambda: lam.get_function(FunctionName=bad),
        "ValidationException",
        400,
        validation(
            f"'{bad}'",
            "functionName",
            f"Member must satisfy regular expression pattern: {READ_NAME_PATTERN}",
        ),
    )
    assert function_names(lam) == names


def test_name_longer_than_64_characters(lam: Any) -> None:
    names = function_names(lam)
    long_name = "n" * 65
    too_long = validation(
        f"'{long_name}'", "functionName", "Member must have length less than or equal to 64"
    )
    expect_error(
        lambda: lam.create_function(**create_args(long_name)),
        "InvalidParameterValueException",
        400,
        too_long,
    )
    # In an ARN the whole value may be longer (up to 140 here), the name still not.
    long_arn = ARN_PREFIX + long_name
    expect_error(
        lambda: lam.create_function(**create_args(long_arn)),
        "InvalidParameterValueException",
        400,
        too_long.replace(f"'{long_name}'", f"'{long_arn}'"),
    )
    assert function_names(lam) == names


def test_oversize_zip_is_refused_with_413(lam: Any, fn: str) -> None:
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)
    oversize = b"\0" * (MAX_ZIPPED + 1)  # the size is checked before the content
    message = f"Zipped size must be smaller than {MAX_ZIPPED} bytes"
    expect_error(
        lambda: lam.create_function(**create_args(unique("big"), oversize)),
        "RequestEntityTooLargeException",
        413,
        message,
    )
    expect_error(
        lambda: lam.update_function_code(FunctionName=fn, ZipFile=oversize),
        "RequestEntityTooLargeException",
        413,
        message,
    )
    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]


def test_request_body_over_the_create_limit_is_refused_unread(server: Server, lam: Any) -> None:
    names = function_names(lam)
    # Only the headers are sent: the declared length alone must be refused.
    answer = raw_request(
        server,
        "POST",
        "/2015-03-31/functions",
        b"",
        headers={"content-length": str(CREATE_BODY_LIMIT + 1)},
    )
    assert (answer.status, answer.error_type) == (413, "RequestEntityTooLargeException")
    assert answer.body == {
        "message": "Request must be smaller than 70167211 bytes for the CreateFunction operation"
    }
    assert function_names(lam) == names


def test_malformed_zip_is_refused(lam: Any, fn: str) -> None:
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)
    message = "Could not unzip uploaded file. Please check your file, then try to upload again."
    for junk in (b"this is not a zip", make_zip({"app.py": HANDLER_CODE})[:-30]):
        expect_error(
            functools.partial(lam.create_function, **create_args(unique("junk"), junk)),
            "InvalidParameterValueException",
            400,
            message,
        )
        expect_error(
            functools.partial(lam.update_function_code, FunctionName=fn, ZipFile=junk),
            "InvalidParameterValueException",
            400,
            message,
        )
    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]


def escaping_zips(outside: Path) -> dict[str, bytes]:
    """Packages that try to write `evil*` files above the function's folder."""
    return {
        "dot-dot": zip_with_links([("../../../evil-dotdot", "x", FILE)]),
        "nested-dot-dot": zip_with_links([("lib/../../../../evil-nested", "x", FILE)]),
        "absolute": zip_with_links([(str(outside / "evil-absolute"), "x", FILE)]),
        "symlink-up": zip_with_links(
            [("escape", "../../../..", SYMLINK), ("escape/evil-through-link", "x", FILE)]
        ),
        "symlink-absolute": zip_with_links(
            [("escape", str(outside), SYMLINK), ("escape/evil-absolute-link", "x", FILE)]
        ),
    }


def evil_files(server: Server) -> list[Path]:
    return sorted(server.data_dir.parent.rglob("evil*"))


@pytest.mark.parametrize(
    "kind", ["dot-dot", "nested-dot-dot", "absolute", "symlink-up", "symlink-absolute"]
)
def test_zip_entries_escaping_the_folder_are_refused(
    server: Server, lam: Any, fn: str, kind: str
) -> None:
    package = escaping_zips(server.data_dir.parent)[kind]
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)

    for call in (
        lambda: lam.create_function(**create_args(unique("escape"), package)),
        lambda: lam.update_function_code(FunctionName=fn, ZipFile=package),
    ):
        got = outcome_of(call)
        assert (got.code, got.status) == ("InvalidParameterValueException", 400)
        assert got.message.startswith(
            "Could not unzip uploaded file. Please check your file, then try to upload again. ("
        )
        assert "points outside the function's folder" in got.message

    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]
    assert evil_files(server) == []


def test_symlink_chain_escaping_on_disk_is_refused_and_writes_nothing(
    server: Server, lam: Any
) -> None:
    # By names alone `a/b/d/l -> ../..` stays inside; on disk `a/b/d` is already `a`, so it
    # would land above the folder. Inspection resolves links as the kernel will: refused.
    package = zip_with_links(
        [
            ("a/b/keep.txt", "", FILE),
            ("a/b/d", "..", SYMLINK),
            ("a/b/d/l", "../..", SYMLINK),
            ("a/b/d/l/evil-chain", "x", FILE),
        ]
    )
    names = function_names(lam)
    got = outcome_of(lambda: lam.create_function(**create_args(unique("chain"), package)))
    assert (got.code, got.status) == ("InvalidParameterValueException", 400)
    assert "symlink 'a/b/d/l' points outside the function's folder" in got.message
    assert function_names(lam) == names
    assert evil_files(server) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "MemorySize",
            64,
            validation("'64'", "memorySize", "Member must have value greater than or equal to 128"),
        ),
        (
            "MemorySize",
            10241,
            validation(
                "'10241'", "memorySize", "Member must have value less than or equal to 10240"
            ),
        ),
        (
            "Timeout",
            0,
            validation("'0'", "timeout", "Member must have value greater than or equal to 1"),
        ),
        (
            "Timeout",
            901,
            validation("'901'", "timeout", "Member must have value less than or equal to 900"),
        ),
    ],
    ids=["memory-64", "memory-10241", "timeout-0", "timeout-901"],
)
def test_limits_out_of_range(
    lam: Any, lax: Any, fn: str, field: str, value: int, message: str
) -> None:
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)
    expect_error(
        lambda: lax.create_function(**create_args(unique("range"), **{field: value})),
        "ValidationException",
        400,
        message,
    )
    expect_error(
        lambda: lax.update_function_configuration(FunctionName=fn, **{field: value}),
        "ValidationException",
        400,
        message,
    )
    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]


def test_limits_at_the_edges_are_accepted(lam: Any) -> None:
    name = unique("edges")
    created = lam.create_function(**create_args(name, MemorySize=10240, Timeout=900))
    assert (created["MemorySize"], created["Timeout"]) == (10240, 900)
    wait_settled(lam, name)
    updated = lam.update_function_configuration(FunctionName=name, MemorySize=128, Timeout=1)
    assert (updated["MemorySize"], updated["Timeout"]) == (128, 1)
    wait_settled(lam, name)
    lam.delete_function(FunctionName=name)


def test_reserved_and_oversize_environments(lam: Any, fn: str) -> None:
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)
    reserved = {"Variables": {"MINE": "ok", "AWS_REGION": "eu-west-1"}}
    reserved_message = (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: AWS_REGION"
    )
    big = {"Variables": {"BIG": "x" * 4090}}  # {"BIG":"x…"} is 4100 bytes
    big_message = (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: "
        '{"BIG":"' + "x" * 4090 + '"}'
    )
    for environment, message in ((reserved, reserved_message), (big, big_message)):
        expect_error(
            functools.partial(
                lam.create_function, **create_args(unique("env"), Environment=environment)
            ),
            "InvalidParameterValueException",
            400,
            message,
        )
        expect_error(
            functools.partial(
                lam.update_function_configuration, FunctionName=fn, Environment=environment
            ),
            "InvalidParameterValueException",
            400,
            message,
        )
    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]


@pytest.mark.parametrize(
    ("runtime", "message"),
    [
        (
            "python3.7",
            "The runtime parameter of python3.7 is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions.",
        ),
        (
            "PYTHON3.9",
            "Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{AWS_RUNTIMES}] or be a valid ARN",
        ),
    ],
    ids=["deprecated", "not-in-the-enum"],
)
def test_refused_runtimes(lam: Any, fn: str, runtime: str, message: str) -> None:
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)
    expect_error(
        lambda: lam.create_function(**create_args(unique("rt"), Runtime=runtime)),
        "InvalidParameterValueException",
        400,
        message,
    )
    expect_error(
        lambda: lam.update_function_configuration(FunctionName=fn, Runtime=runtime),
        "InvalidParameterValueException",
        400,
        message,
    )
    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]


def test_runtime_aws_has_but_this_server_lacks(lam: Any) -> None:
    names = function_names(lam)
    got = outcome_of(lambda: lam.create_function(**create_args(unique("rb"), Runtime="ruby3.3")))
    assert (got.code, got.status) == ("InvalidParameterValueException", 400)
    # It names what this server does run (which interpreters exist varies by machine).
    assert got.message.startswith(
        "Runtime ruby3.3 is not available on this Ember server. It runs: "
    )
    assert RUNTIME in got.message
    assert "provided.al2023" in got.message
    assert function_names(lam) == names


def test_python_aws_has_but_this_server_lacks(lam: Any) -> None:
    """A python3.x with no interpreter here says how to add one."""
    runtimes = {f"python3.{minor}" for minor in range(8, 15)}
    missing = sorted(runtimes - set(RuntimeCatalog.discover().names()))
    if not missing:
        pytest.skip("every python3.x AWS accepts has an interpreter here")
    names = function_names(lam)
    got = outcome_of(lambda: lam.create_function(**create_args(unique("py"), Runtime=missing[0])))
    assert (got.code, got.status) == ("InvalidParameterValueException", 400)
    assert "--python VERSION=PATH" in got.message
    assert function_names(lam) == names


def test_role_must_match_the_pattern(lam: Any, fn: str) -> None:
    names = function_names(lam)
    before = lam.get_function_configuration(FunctionName=fn)
    message = validation(
        "'not-a-role'",
        "role",
        r"Member must satisfy regular expression pattern: "
        r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    )
    expect_error(
        lambda: lam.create_function(**create_args(unique("role"), Role="not-a-role")),
        "ValidationException",
        400,
        message,
    )
    expect_error(
        lambda: lam.update_function_configuration(FunctionName=fn, Role="not-a-role"),
        "ValidationException",
        400,
        message,
    )
    assert function_names(lam) == names
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] == before["RevisionId"]


@pytest.mark.parametrize(
    ("architectures", "message"),
    [
        (
            ["X86_64"],
            validation(
                "'[X86_64]'",
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[x86_64, arm64], Member must not be null]",
            ),
        ),
        (
            ["x86_64", "arm64"],
            validation(
                "'[x86_64, arm64]'",
                "architectures",
                "Member must have length less than or equal to 1",
            ),
        ),
    ],
    ids=["uppercase", "two"],
)
def test_architectures(lam: Any, architectures: list[str], message: str) -> None:
    names = function_names(lam)
    expect_error(
        lambda: lam.create_function(**create_args(unique("arch"), Architectures=architectures)),
        "ValidationException",
        400,
        message,
    )
    assert function_names(lam) == names


def test_list_functions_function_version_must_be_all(lam: Any) -> None:
    expect_error(
        lambda: lam.list_functions(FunctionVersion="invalid"),
        "ValidationException",
        400,
        validation("'invalid'", "functionVersion", "Member must satisfy enum value set: [ALL]"),
    )


def test_qualifier_in_name_and_parameter_must_agree(lam: Any, fn: str) -> None:
    mismatch = (
        "The derived qualifier from the function name does not match the specified qualifier."
    )
    for call in (
        lambda: lam.get_function(FunctionName=f"{fn}:1", Qualifier="2"),
        lambda: lam.get_function_configuration(FunctionName=f"{arn(fn)}:1", Qualifier="2"),
        lambda: lam.delete_function(FunctionName=f"{fn}:1", Qualifier="2"),
        lambda: lam.invoke(FunctionName=f"{fn}:1", Qualifier="2", Payload=b"{}"),
    ):
        expect_error(call, "InvalidParameterValueException", 400, mismatch)
    assert lam.get_function_configuration(FunctionName=fn)["State"] == "Active"


def test_function_arn_of_another_region(lam: Any, fn: str) -> None:
    other = f"arn:aws:lambda:eu-central-1:000000000000:function:{fn}"
    message = "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')"
    for call in (
        lambda: lam.get_function(FunctionName=other),
        lambda: lam.update_function_configuration(FunctionName=other, Timeout=9),
        lambda: lam.delete_function(FunctionName=other),
        lambda: lam.invoke(FunctionName=other, Payload=b"{}"),
    ):
        expect_error(call, "ResourceNotFoundException", 404, message)
    config = lam.get_function_configuration(FunctionName=fn)
    assert (config["State"], config["Timeout"]) == ("Active", 3)


def test_function_arn_of_another_account(lam: Any, fn: str) -> None:
    other = f"arn:aws:lambda:us-east-1:123456789012:function:{fn}"
    for call in (
        lambda: lam.get_function(FunctionName=other),
        lambda: lam.delete_function(FunctionName=other),
        lambda: lam.invoke(FunctionName=other, Payload=b"{}"),
    ):
        got = outcome_of(call)
        assert (got.code, got.status) == ("AccessDeniedException", 403)
        assert "123456789012" in got.message
    assert lam.get_function_configuration(FunctionName=fn)["State"] == "Active"


def test_unknown_versions_are_not_found_and_deleting_one_is_a_no_op(lam: Any, fn: str) -> None:
    expect_error(
        lambda: lam.get_function(FunctionName=fn, Qualifier="7"),
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn(fn)}:7",
    )
    # Lambda: deleting a version that does not exist succeeds and deletes nothing.
    assert (
        lam.delete_function(FunctionName=fn, Qualifier="7")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    assert lam.get_function_configuration(FunctionName=fn)["State"] == "Active"
    expect_error(
        lambda: lam.delete_function(FunctionName=fn, Qualifier="$LATEST"),
        "InvalidParameterValueException",
        400,
        "$LATEST version cannot be deleted without deleting the function.",
    )
    assert fn in function_names(lam)


def test_revision_id_changes_when_a_change_settles(lam: Any) -> None:
    """Lambda gives a new RevisionId once a create or an update has settled, so the id a
    Create/Update answer carried no longer passes as a precondition."""
    name = unique("revsettle")
    created = deploy(lam, name)
    active = wait_settled(lam, name)
    assert active["RevisionId"] != created["RevisionId"]
    updated = lam.update_function_configuration(FunctionName=name, Description="d")
    settled = wait_settled(lam, name)
    assert settled["RevisionId"] not in (updated["RevisionId"], active["RevisionId"])
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(
            FunctionName=name, Description="e", RevisionId=updated["RevisionId"]
        )
    lam.update_function_configuration(
        FunctionName=name, Description="e", RevisionId=settled["RevisionId"]
    )
