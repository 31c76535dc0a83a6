"""A fault on Ember's side, caused for real, reaches the client in Lambda's shape only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.apicalls import deploy, unique
from tests.e2e.harness import Server, wait_until

pytestmark = pytest.mark.e2e

INTERNAL_FAILURE = (
    "The request processing has failed because of an unknown error, exception or failure."
)


def test_a_lost_blob_is_a_service_exception_without_its_path(server: Server, lam: Any) -> None:
    name = unique("lost")
    deploy(lam, name)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    blobs = list((server.data_dir / "blobs").rglob("*"))
    # The blob behind the download URL goes missing on disk (a disk fault, an operator).
    (blob,) = [p for p in blobs if p.is_file() and p.name in location]
    blob.unlink()

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(location, timeout=30)
    answer = raised.value
    body = answer.read()
    assert answer.code == 500
    assert answer.headers["x-amzn-errortype"] == "ServiceException"
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(body) == {"Type": "Service", "Message": INTERNAL_FAILURE}
    assert str(server.data_dir).encode() not in body
    # The details are in Ember's log, under the request id the client got.
    request_id = answer.headers["x-amzn-requestid"]
    logged = wait_until(lambda: request_id in server.output() and server.output())
    assert str(blob) in logged.split(request_id, 1)[1]
    lam.delete_function(FunctionName=name)
