"""Deployment packages at Ember's limits, through CreateFunction, UpdateFunctionCode and
PublishLayerVersion: refused at once with InvalidParameterValueException, nothing written;
what is accepted is unpacked with Lambda's file modes."""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apicalls import (
    FILE,
    RUNTIME,
    SYMLINK,
    deploy,
    function_names,
    outcome_of,
    unique,
    wait_settled,
    zip_with_links,
)
from tests.e2e.harness import ROLE, Server

pytestmark = pytest.mark.e2e

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


def many_entries(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        for n in range(count - 1):
            archive.writestr(f"{n:x}", b"")
    return buffer.getvalue()


def layer_names(lam: Any) -> list[str]:
    return sorted(layer["LayerName"] for layer in lam.list_layers()["Layers"])


def stored(server: Server) -> set[Path]:
    """Every blob, unpacked function and unpacked layer on disk. os.walk, not rglob: the
    server may remove an earlier test's unused code while this looks (a vanished folder
    is skipped, not an error)."""
    found: set[Path] = set()
    for d in ("blobs", "code", "layers"):
        for root, dirs, files in os.walk(server.data_dir / d):
            found.update(Path(root) / name for name in (*dirs, *files))
    return found


def assert_refused(server: Server, lam: Any, package: bytes, detail: str) -> None:
    """CreateFunction and PublishLayerVersion both refuse `package`; nothing is kept."""
    functions, layers, files = function_names(lam), layer_names(lam), stored(server)
    calls = [
        lambda: lam.create_function(
            FunctionName=unique("zip"),
            Runtime=RUNTIME,
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package},
        ),
        lambda: lam.publish_layer_version(LayerName=unique("zip"), Content={"ZipFile": package}),
    ]
    for call in calls:
        got = outcome_of(call)
        assert (got.code, got.status) == ("InvalidParameterValueException", 400)
        assert got.message.startswith(UNZIP_FAILED + " (")
        assert detail in got.message
    assert (function_names(lam), layer_names(lam)) == (functions, layers)
    # Nothing new on disk (what earlier tests left may be collected meanwhile: the server
    # is shared, and unused code goes in the background).
    assert stored(server) - files == set()


def test_a_hundred_thousand_entries_are_refused(server: Server, lam: Any) -> None:
    assert_refused(server, lam, many_entries(100_000), "more than 65535 entries")


def test_entries_up_to_the_limit_are_accepted(lam: Any) -> None:
    name = unique("many")
    deploy(lam, name, None)  # a function to update with the big package
    package = many_entries(65_535)
    lam.update_function_code(FunctionName=name, ZipFile=package)
    assert wait_settled(lam, name, limit=60)["LastUpdateStatus"] == "Successful"
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == 1
    lam.delete_function(FunctionName=name)


def test_chained_symlinks_escaping_are_refused(server: Server, lam: Any) -> None:
    # `s` leads to `a`, so `s/../../x` climbs above the folder although, read as text,
    # `s/..` cancels out. Accepted (and unpacked) before links were resolved part by part.
    package = zip_with_links(
        [
            ("app.py", "def handler(event, context):\n    return 1\n", FILE),
            ("a/b/c/s", "../..", SYMLINK),
            ("a/b/c/t", "s/../../x", SYMLINK),
        ]
    )
    assert_refused(server, lam, package, "symlink 'a/b/c/t' points outside the function's folder")


@pytest.mark.parametrize(
    ("entries", "detail"),
    [
        ([("app.py", "x", FILE), ("app.py", "y", FILE)], "appears more than once"),
        ([("lib\\evil.py", "x", FILE)], "backslash"),
        ([("l", "lib", SYMLINK), ("l/evil.py", "x", FILE)], "lies under a file or symlink"),
        ([("x" * 256, "x", FILE)], "part longer than 255 bytes"),
        ([("d/" * 129 + "f", "x", FILE)], "more than 128 folders deep"),
        ([("loop", "loop/x", SYMLINK)], "too many levels of symbolic links"),
    ],
    ids=["duplicate", "backslash", "under-link", "long-part", "deep", "loop"],
)
def test_bad_names_are_refused(
    server: Server, lam: Any, entries: list[tuple[str, str, int]], detail: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        package = zip_with_links(entries)
    assert_refused(server, lam, package, detail)


MODES = """
import os, stat
def handler(event, context):
    return {p: oct(stat.S_IMODE(os.stat(p).st_mode))
            for p in ("wide.txt", "run.sh", "setuid", "dir", "dir/inner.py")}
"""


def test_unpacked_files_have_lambdas_modes(lam: Any) -> None:
    package = zip_with_links(
        [
            ("app.py", MODES, FILE),
            ("wide.txt", "x", 0o100666),
            ("run.sh", "#!/bin/sh\n", 0o100777),
            ("setuid", "x", 0o104755),
            ("dir/", "", 0o40777),
            ("dir/inner.py", "", 0o100646),
        ]
    )
    name = unique("modes")
    lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
        Code={"ZipFile": package},
    )  # fmt: skip
    assert wait_settled(lam, name)["State"] == "Active"
    modes = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert modes == {
        "wide.txt": "0o644",
        "run.sh": "0o755",
        "setuid": "0o755",
        "dir": "0o755",
        "dir/inner.py": "0o644",
    }
    lam.delete_function(FunctionName=name)
