"""Each environment's /tmp is its own filesystem on disk: EphemeralStorage MB exactly, not
charged to the function's memory, kept while the environment is warm, gone with it.

Every test checks from inside a function; each would fail on a tmpfs /tmp (the fallback
where this host cannot loop-mount: then they skip, as `ember doctor` says why).
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests.e2e.harness import Server, create_function, wait_until


def _scratch_problem() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    if not host.namespaces:
        return host.bwrap_problem
    return "" if host.scratch is not None else host.scratch_problem


NO_SCRATCH = _scratch_problem()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(NO_SCRATCH), reason=f"/tmp stays a tmpfs here: {NO_SCRATCH}"),
]

TMP = """
import errno, json, os, resource, time

def _tmp_mount():
    # /tmp's line in mountinfo: (filesystem type, device)
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if fields[4] == "/tmp":
            after = fields[fields.index("-") + 1:]
            return after[0], after[1]
    return None, None

def _fill(path, mb):
    written, chunk = 0, b"x" * (1 << 20)
    try:
        with open(path, "wb") as f:
            while written < mb:
                f.write(chunk)
                written += 1
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return written, errno.errorcode.get(exc.errno)
    return written, None

def handler(event, context):
    fstype, device = _tmp_mount()
    stat = os.statvfs("/tmp")
    out = {
        "fstype": fstype,
        "size_mb": stat.f_blocks * stat.f_frsize / (1 << 20),
        "free_mb": stat.f_bavail * stat.f_frsize / (1 << 20),
        "dev": os.stat("/tmp").st_dev,
        "stream": context.log_stream_name,
        "before": sorted(os.listdir("/tmp")),
    }
    if "fill_mb" in event:
        out["mb"], out["error"] = _fill("/tmp/fill", event["fill_mb"])
        if event.get("remove"):
            os.remove("/tmp/fill")
    if "write" in event:
        with open("/tmp/" + event["write"], "w") as f:
            f.write(event["write"])
    if "sleep" in event:
        time.sleep(event["sleep"])
    out["after"] = sorted(os.listdir("/tmp"))
    # This process's own peak: Python and the 1 MB chunk, not the file's pages.
    out["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _invoke(lam: Any, name: str, payload: Any) -> tuple[dict[str, Any], Any, str]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail")
    log = base64.b64decode(resp.get("LogResult", "")).decode(errors="replace")
    return resp, json.loads(resp["Payload"].read() or b"null"), log


def _max_memory_used(log: str) -> int:
    found = re.search(r"Max Memory Used: (\d+) MB", log)
    assert found is not None, log
    return int(found.group(1))


def test_a_128_mb_function_writes_200_mb_to_tmp(lam: Any) -> None:
    name = _name("tmp200")
    create_function(lam, name, TMP, MemorySize=128, Timeout=60, EphemeralStorage={"Size": 512})
    resp, doc, log = _invoke(lam, name, {"fill_mb": 200})
    assert "FunctionError" not in resp, doc  # a tmpfs /tmp: Runtime.OutOfMemory
    assert doc["fstype"] == "ext4"
    assert (doc["mb"], doc["error"]) == (200, None)
    assert doc["rss_peak_mb"] < 64
    # The file's pages are reclaimable cache: the environment never needed more than it had.
    assert _max_memory_used(log) <= 128
    resp, again, _ = _invoke(lam, name, {})
    assert "FunctionError" not in resp, again
    assert again["stream"] == doc["stream"]  # the same environment, not a replacement
    assert again["before"] == ["fill"]


def test_writing_past_ephemeral_storage_gets_enospc_and_the_environment_works(lam: Any) -> None:
    name = _name("tmpfull")
    create_function(lam, name, TMP, MemorySize=128, Timeout=60, EphemeralStorage={"Size": 512})
    resp, doc, _ = _invoke(lam, name, {"fill_mb": 2048, "remove": True})
    assert "FunctionError" not in resp, doc
    assert doc["fstype"] == "ext4"
    assert 511 <= doc["size_mb"] < 530  # ext4's own tables on top of the 512 MB
    assert doc["error"] == "ENOSPC"
    assert 500 <= doc["mb"] <= 512
    resp, after, _ = _invoke(lam, name, {"fill_mb": 100, "remove": True})
    assert "FunctionError" not in resp, after
    assert after["stream"] == doc["stream"]
    assert (after["mb"], after["error"]) == (100, None)


def test_a_bigger_ephemeral_storage_is_the_limit(lam: Any) -> None:
    name = _name("tmp1g")
    create_function(lam, name, TMP, MemorySize=128, Timeout=60, EphemeralStorage={"Size": 1024})
    resp, doc, _ = _invoke(lam, name, {})
    assert "FunctionError" not in resp, doc
    assert doc["fstype"] == "ext4"
    assert 1023 <= doc["free_mb"] <= 1024


def test_tmp_is_kept_while_warm_and_empty_in_the_next_environment(server: Server, lam: Any) -> None:
    name = _name("tmpwarm")
    marker = uuid.uuid4().hex
    create_function(lam, name, TMP, MemorySize=128)
    _, first, _ = _invoke(lam, name, {"write": marker})
    assert first["fstype"] == "ext4"
    assert first["after"] == [marker]
    _, warm, _ = _invoke(lam, name, {})
    assert warm["stream"] == first["stream"]
    assert warm["before"] == [marker]
    # A configuration change retires the environment; the next invoke starts a new one.
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"STAGE": "2"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    _, fresh, _ = _invoke(lam, name, {})
    assert fresh["stream"] != first["stream"]
    assert fresh["before"] == []
    # Nothing the old environment wrote is left on the host's disk.
    wait_until(lambda: not _on_disk(server.data_dir, marker.encode()), limit=30)


def _on_disk(data_dir: Path, needle: bytes) -> bool:
    """Whether any file under the data dir's sandbox state holds `needle` (reading only
    the written parts of sparse images)."""
    for path in (data_dir / "sandbox").rglob("*"):
        try:
            if not path.is_file() or path.is_symlink():
                continue
            with open(path, "rb") as f:
                fd, offset = f.fileno(), 0
                while True:
                    try:
                        offset = os.lseek(fd, offset, os.SEEK_DATA)
                    except OSError:
                        break
                    end = os.lseek(fd, offset, os.SEEK_HOLE)
                    f.seek(offset)
                    if needle in f.read(end - offset):
                        return True
                    offset = end
        except OSError:
            continue
    return False


def test_two_concurrent_environments_do_not_share_tmp(lam: Any) -> None:
    name = _name("tmppair")
    create_function(lam, name, TMP, MemorySize=128)
    markers = [uuid.uuid4().hex, uuid.uuid4().hex]
    with ThreadPoolExecutor(2) as pool:
        docs = list(pool.map(lambda m: _invoke(lam, name, {"write": m, "sleep": 1.0})[1], markers))
    assert docs[0]["stream"] != docs[1]["stream"], docs  # two environments at once
    assert [d["after"] for d in docs] == [[markers[0]], [markers[1]]]
    assert docs[0]["dev"] != docs[1]["dev"]  # two filesystems, not two folders of one
    assert {d["fstype"] for d in docs} == {"ext4"}
