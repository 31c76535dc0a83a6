"""What a Python function finds, as on AWS's Python runtimes: boto3 and botocore without
vendoring them, after the function's own code and layers (a vendored copy wins), from one
read-only copy shared by every environment (installed by `make`); and the python3.x
identifiers AWS lists, answered as AWS answers them or run where an interpreter exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ember.runtimes import RuntimeCatalog
from ember.runtimes.catalog import DEFAULT_SDK_DIR, sdk_installed, sdk_versions
from tests.e2e.harness import Server, create_function, make_zip, run_server

pytestmark = pytest.mark.e2e

PROBE = """\
import json, os, sys

def handler(event, context):
    import boto3, botocore
    writable = os.access(os.path.dirname(botocore.__file__), os.W_OK)
    return {
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "botocore_file": botocore.__file__,
        "path": sys.path,
        "sdk_writable": writable,
        "leaked": [k for k in os.environ if k.startswith("_EMBER")],
        "client": boto3.client("lambda", region_name="us-east-1").meta.service_model.service_name,
    }
"""
VENDORED = {
    "app.py": "import botocore\n\ndef handler(event, context):\n"
    "    return {'botocore': botocore.__version__, 'file': botocore.__file__}\n",
    "botocore/__init__.py": "__version__ = '0.0.1-vendored'\n",
}


@pytest.fixture(scope="module", params=["auto", "none"], ids=["sandboxed", "plain"])
def isolation(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture(scope="module")
def sdk_server(isolation: str, tmp_path_factory: Any) -> Iterator[Server]:
    assert sdk_installed(DEFAULT_SDK_DIR), f"run `make install`: no SDK in {DEFAULT_SDK_DIR}"
    with run_server(tmp_path_factory.mktemp("sdk") / "data", "--isolation", isolation) as server:
        yield server


def _invoke(lam: Any, name: str) -> Any:
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def test_boto3_imports_without_vendoring(sdk_server: Server) -> None:
    lam = sdk_server.client()
    create_function(lam, "sdk-probe", PROBE, Timeout=60)
    found = _invoke(lam, "sdk-probe")
    assert {"boto3": found["boto3"], "botocore": found["botocore"]} == sdk_versions(DEFAULT_SDK_DIR)
    assert found["client"] == "lambda"
    assert found["leaked"] == []  # Ember's own variable is not the function's business
    sandboxed = found["path"][0] == "/var/task"  # `auto` where bubblewrap is installed
    if sandboxed:
        assert not found["sdk_writable"]  # shared: no environment may change it
    path, sdk = found["path"], found["botocore_file"].rsplit("/botocore/", 1)[0]
    # AWS's order: the function's code, the layers' folders, then the runtime's SDK.
    # The task root (/var/task; plain processes: the unpacked code under the data dir).
    assert path[0] == "/var/task" or "/code/" in path[0]
    assert path.index(sdk) > 0
    if "/opt/python" in path:
        assert path.index("/opt/python") < path.index(sdk)
    if sandboxed:
        assert path[:4] == [
            "/var/task",
            "/opt/python/lib/python3.11/site-packages",
            "/opt/python",
            "/var/runtime-sdk",
        ]
    else:
        assert sdk == str(DEFAULT_SDK_DIR)


def test_a_vendored_botocore_wins(sdk_server: Server) -> None:
    lam = sdk_server.client()
    create_function(lam, "sdk-vendored", VENDORED)
    found = _invoke(lam, "sdk-vendored")
    assert found["botocore"] == "0.0.1-vendored"


def test_a_layer_botocore_wins(sdk_server: Server) -> None:
    lam = sdk_server.client()
    layer = lam.publish_layer_version(
        LayerName="old-botocore",
        Content={
            "ZipFile": make_zip({"python/botocore/__init__.py": "__version__ = '0.0.2-layer'\n"})
        },
    )
    create_function(
        lam,
        "sdk-layered",
        {"app.py": VENDORED["app.py"]},
        Layers=[layer["LayerVersionArn"]],
    )
    assert _invoke(lam, "sdk-layered")["botocore"] == "0.0.2-layer"


# --- runtime identifiers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog() -> RuntimeCatalog:
    return RuntimeCatalog.discover()


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return dict(info.value.response["Error"])


@pytest.mark.parametrize("runtime", ["python3.8", "python3.9", "python3.14"])
def test_python_runtimes_aws_accepts(
    sdk_server: Server, catalog: RuntimeCatalog, runtime: str
) -> None:
    """AWS accepts these (its recorded enum message lists them): Ember runs each where an
    interpreter exists and otherwise says which it has."""
    lam = sdk_server.client()
    name = "rt-" + runtime.replace(".", "-")
    code = "import sys\n\ndef handler(event, context):\n    return '%d.%d' % sys.version_info[:2]\n"
    if catalog.get(runtime) is None:
        error = _error(lambda: create_function(lam, name, code, runtime=runtime))
        assert error["Code"] == "InvalidParameterValueException"
        assert error["Message"].startswith(f"Runtime {runtime} is not available on this Ember")
        return
    create_function(lam, name, code, runtime=runtime)
    assert _invoke(lam, name) == runtime.removeprefix("python")
    # ...and an existing function may be updated to it (and back).
    lam.update_function_configuration(FunctionName=name, Runtime="python3.11")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Runtime=runtime)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert _invoke(lam, name) == runtime.removeprefix("python")


def test_runtimes_aws_refuses(sdk_server: Server) -> None:
    lam = sdk_server.client()
    deprecated = _error(lambda: create_function(lam, "rt-37", "x = 1\n", runtime="python3.7"))
    assert deprecated == {
        "Code": "InvalidParameterValueException",
        "Message": "The runtime parameter of python3.7 is no longer supported for creating or "
        "updating AWS Lambda functions. We recommend you use a supported runtime while "
        "creating or updating functions.",
        **({"Type": deprecated["Type"]} if "Type" in deprecated else {}),
    }
    # In botocore's model but not (yet) in AWS's answer: refused with AWS's enum message.
    future = _error(lambda: create_function(lam, "rt-315", "x = 1\n", runtime="python3.15"))
    assert future["Code"] == "InvalidParameterValueException"
    assert future["Message"].startswith(
        "Value python3.15 at 'runtime' failed to satisfy constraint"
    )
