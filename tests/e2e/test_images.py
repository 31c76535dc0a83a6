"""Container image functions (PackageType Image) end to end, without Docker.

The module builds one OCI image itself (tests/e2e/oci_images.py: this machine's Python and
awslambdaric in three gzip layers, ENTRYPOINT python3 -m awslambdaric, CMD app.handler),
then creates functions from it through boto3 in each accepted ImageUri form, invokes them,
overrides ImageConfig, and feeds Ember broken images: a missing one, a malformed manifest,
a layer that climbs out of the root. When the last function goes, nothing of the images is
left in the data dir.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.apicalls import outcome_of, unique
from tests.e2e.harness import ROLE, Server, create_function, make_zip, run_server, wait_until
from tests.e2e.oci_images import layer_tar, python_image, small_image, write_layout
from tests.e2e.test_conformance import assert_answered, load_rows

pytestmark = pytest.mark.e2e

NOT_FOR_IMAGES = (
    "Please don't provide Handler or Runtime or Layer when the intended function PackageType "
    "is Image."
)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the OCI layout folder, its manifest's hex digest), built once for the module."""
    layout = tmp_path_factory.mktemp("image") / "layout"
    return layout, python_image(layout).partition(":")[2]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("ember-images") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


def _create(lam: Any, uri: str, *, wait: bool = True, **kwargs: Any) -> dict[str, Any]:
    name = kwargs.pop("name", None) or unique("img")
    answer: dict[str, Any] = lam.create_function(
        FunctionName=name, Role=ROLE, PackageType="Image", Code={"ImageUri": uri}, **kwargs
    )
    if wait:
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    return answer


def _invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = json.dumps(event or {}).encode()
    resp: dict[str, Any] = lam.invoke(FunctionName=name, Payload=payload, LogType="Tail")
    resp["body"] = json.loads(resp["Payload"].read())
    return resp


def _failed(lam: Any, name: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        return config if config["State"] != "Pending" else None

    config: dict[str, Any] = wait_until(settled, limit=60, interval=0.2)
    return config


def test_image_function_runs_its_own_runtime_client(lam: Any, image: tuple[Path, str]) -> None:
    layout, digest = image
    created = _create(lam, str(layout), Environment={"Variables": {"CUSTOM": "x"}})
    name = created["FunctionName"]
    assert created["PackageType"] == "Image"
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert "Runtime" not in created
    assert "Handler" not in created
    assert "ImageConfigResponse" not in created
    assert created["CodeSha256"] == digest

    got = lam.get_function(FunctionName=name)
    assert got["Code"] == {
        "RepositoryType": "ECR",
        "ImageUri": str(layout),
        "ResolvedImageUri": f"{layout}@sha256:{digest}",
    }
    assert got["Configuration"]["State"] == "Active"
    assert "RuntimeVersionConfig" not in got["Configuration"]

    resp = _invoke(lam, name, {"k": 1})
    assert "FunctionError" not in resp, resp["body"]
    body = resp["body"]
    assert body["greeting"] == "from-image"  # the image's ENV
    assert body["cwd"] == "/var/task"  # its WORKDIR
    assert body["argv"][0].endswith("awslambdaric/__main__.py")
    assert body["argv"][1:] == ["app.handler"]
    assert body["handler_env"] == "app.handler"
    assert body["runtime_api"]
    assert body["task_root"] == "/var/task"
    assert body["removed_exists"] is False  # the third layer's whiteout applied
    assert body["root_writable"] is False
    assert body["tmp_writable"] is True
    assert body["host_home"] is False  # the image's root, not the host's
    assert body["uid"] == 993  # Lambda's sandbox user, whatever the image says
    assert body["event"] == {"k": 1}

    resp = _invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert resp["body"]["errorType"] == "ValueError"
    assert resp["body"]["errorMessage"] == "image says no"
    lam.delete_function(FunctionName=name)


def test_image_config_overrides_and_updates(
    lam: Any, image: tuple[Path, str], tmp_path: Path
) -> None:
    layout, digest = image
    overrides = {"Command": ["app.other"], "WorkingDirectory": "/tmp"}
    created = _create(lam, f"oci:{layout}:latest", ImageConfig=overrides)
    name = created["FunctionName"]
    assert created["ImageConfigResponse"] == {"ImageConfig": overrides}
    assert _invoke(lam, name)["body"] == {"other": True, "cwd": "/tmp"}

    lam.update_function_configuration(
        FunctionName=name,
        ImageConfig={"Command": ["app.handler"]},
        Environment={"Variables": {"GREETING": "from-function"}},
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    body = _invoke(lam, name)["body"]
    assert body["greeting"] == "from-function"
    assert body["cwd"] == "/var/task"

    answer = lam.update_function_configuration(FunctionName=name, ImageConfig={})
    assert "ImageConfigResponse" not in answer
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    # UpdateFunctionCode with the same image as an oci-archive: the same digest.
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")
    updated = lam.update_function_code(FunctionName=name, ImageUri=f"oci-archive:{archive}")
    assert updated["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    code = lam.get_function(FunctionName=name)["Code"]
    assert code["ImageUri"] == f"oci-archive:{archive}"
    assert code["ResolvedImageUri"] == f"oci-archive:{archive}@sha256:{digest}"
    body = _invoke(lam, name)["body"]
    assert body["greeting"] == "from-function"
    assert body["event"] == {}

    published = lam.publish_version(FunctionName=name)
    assert published["PackageType"] == "Image"
    assert published["CodeSha256"] == digest
    resp = _invoke(lam, f"{name}:{published['Version']}")
    assert "FunctionError" not in resp
    lam.delete_function(FunctionName=name)


def test_docker_archive(lam: Any, image: tuple[Path, str], tmp_path: Path) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed (make install puts it there as root on apt)")
    layout, _ = image
    archive = tmp_path / "docker.tar"
    subprocess.run(
        [skopeo, "copy", "--quiet", f"oci:{layout}:latest", f"docker-archive:{archive}"],
        check=True,
        timeout=120,
    )
    name = _create(lam, f"docker-archive:{archive}")["FunctionName"]
    assert _invoke(lam, name)["body"]["greeting"] == "from-image"
    lam.delete_function(FunctionName=name)


def test_what_aws_refuses(lam: Any, image: tuple[Path, str]) -> None:
    layout, _ = image
    for extra in (
        {"Runtime": "python3.11"},
        {"Handler": "app.handler"},
        {"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:x:1"]},
    ):
        with pytest.raises(ClientError) as caught:
            _create(lam, str(layout), wait=False, **extra)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert caught.value.response["Error"]["Message"] == NOT_FOR_IMAGES

    name = _create(lam, str(layout), wait=False)["FunctionName"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    with pytest.raises(ClientError) as caught:
        lam.update_function_code(FunctionName=name, ZipFile=b"PK")
    assert caught.value.response["Error"]["Message"] == (
        "Please provide ImageUri when updating a function with packageType Image."
    )
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName=name, Handler="app.handler")
    assert caught.value.response["Error"]["Message"] == NOT_FOR_IMAGES
    lam.delete_function(FunctionName=name)

    zipped = unique("zip")
    create_function(lam, zipped, "def handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as caught:
        lam.update_function_code(FunctionName=zipped, ImageUri=str(layout))
    assert caught.value.response["Error"]["Message"] == (
        "Please don't provide ImageUri when updating a function with packageType Zip."
    )
    lam.delete_function(FunctionName=zipped)


def test_missing_image(lam: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    with pytest.raises(ClientError) as caught:
        _create(lam, str(missing), wait=False)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert (
        error["Message"] == f"Source image {missing} does not exist. Provide a valid source image."
    )


def test_malformed_manifest_fails_as_invalid_image(lam: Any, tmp_path: Path) -> None:
    layout = tmp_path / "broken"
    write_layout(layout, [layer_tar([])], {}, manifest_override=b"{this is not json")
    name = _create(lam, str(layout), wait=False)["FunctionName"]
    config = _failed(lam, name)
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "InvalidImage"
    assert config["LastUpdateStatus"] == "Failed"
    assert config["LastUpdateStatusReasonCode"] == "InvalidImage"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_function(FunctionName=name)


def test_missing_layer_fails_as_image_access_denied(lam: Any, tmp_path: Path) -> None:
    layout = tmp_path / "partial"
    layer = layer_tar([("f.txt", b"x", 0o644, None)])
    write_layout(layout, [layer], {"Cmd": ["/f.txt"]})
    (layout / "blobs" / "sha256" / hashlib.sha256(layer).hexdigest()).unlink()
    name = _create(lam, str(layout), wait=False)["FunctionName"]
    config = _failed(lam, name)
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "ImageAccessDenied"
    lam.delete_function(FunctionName=name)


def test_layer_climbing_out_fails_and_writes_nothing_outside(
    lam: Any, srv: Server, tmp_path: Path
) -> None:
    layout = tmp_path / "evil"
    entries = [
        ("ok.txt", b"fine", 0o644, None),
        ("../../../../../../../../tmp/ember-image-escape", b"escaped", 0o644, None),
    ]
    write_layout(layout, [layer_tar(entries)], {"Cmd": ["/ok.txt"]})
    name = _create(lam, str(layout), wait=False)["FunctionName"]
    config = _failed(lam, name)
    assert config["StateReasonCode"] == "InvalidImage"
    assert "outside" in config["StateReason"]
    assert not Path("/tmp/ember-image-escape").exists()
    lam.delete_function(FunctionName=name)


def test_log_tail_names_the_image_runtime(lam: Any, image: tuple[Path, str]) -> None:
    layout, _ = image
    name = _create(lam, str(layout))["FunctionName"]
    resp = _invoke(lam, name)
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "REPORT RequestId:" in tail
    lam.delete_function(FunctionName=name)


# -- AWS's recorded errors for images (tests/conformance/lambda-aws-expectations.tsv) -----

SCENARIOS = (
    "TestLambdaImages::test_lambda_image_crud/image-to-zipfile-error",
    "TestLambdaImages::test_lambda_zip_file_to_image/zipfile-to-image-error",
    "TestLambdaImages::test_lambda_image_versions/invalid_sha_publish",
)


@pytest.mark.parametrize("key", SCENARIOS)
def test_recorded_error(key: str, lam: Any) -> None:
    row = load_rows()[key]
    names: dict[str, str] = {}
    if key.endswith("zipfile-to-image-error"):
        name = unique("zip")
        create_function(lam, name, "def handler(e, c):\n    return 1\n")
        call = lambda: lam.update_function_code(FunctionName=name, ImageUri=small_image())  # noqa: E731
    else:
        created = _create(lam, small_image())
        name = created["FunctionName"]
        names["<code-sha256:1>"] = created["CodeSha256"]
        if key.endswith("image-to-zipfile-error"):
            zipped = make_zip({"index.py": "def handler(e, c):\n    return 1\n"})
            call = lambda: lam.update_function_code(FunctionName=name, ZipFile=zipped)  # noqa: E731
        else:
            call = lambda: lam.publish_version(FunctionName=name, CodeSha256="a" * 64)  # noqa: E731
    assert_answered(outcome_of(call), row, names)
    lam.delete_function(FunctionName=name)


def test_nothing_left_behind(lam: Any, srv: Server, image: tuple[Path, str]) -> None:
    """Runs last: once every image function is gone, so are their roots and copies."""
    for function in lam.list_functions()["Functions"]:
        lam.delete_function(FunctionName=function["FunctionName"])
    images = srv.data_dir / "images"

    def emptied() -> bool:
        left = [p for p in images.rglob("*")] if images.is_dir() else []
        return all(p.name == ".sources" for p in left)

    wait_until(emptied, limit=30, interval=0.2)
