"""Escapes tried from inside a function, without the network: other processes' /proc,
ptrace, mount, device files. Each attack runs on the sandboxed server and, as the
control, on an `--isolation none` server, where it succeeds: so each assertion shows what
the sandbox stops (network escapes live in their own suite).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests.e2e.harness import Server, create_function, run_server, wait_until

pytestmark = pytest.mark.e2e


def _bwrap_problem() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return host.bwrap_problem if not host.namespaces else ""


NO_SANDBOX = _bwrap_problem()

# The victim: a warm environment holding a secret in its variables and its command line.
VICTIM = """
def handler(event, context):
    return context.log_stream_name
"""

ATTACKER = r"""
import ctypes, errno, os, subprocess, sys, tempfile

libc = ctypes.CDLL(None, use_errno=True)

def _errno(call):
    try:
        call()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def _read(path):
    with open(path, "rb") as f:
        return f.read()

def _scan_proc(secret):
    # Every /proc/<pid>/{environ,cmdline} this process can read: does any hold `secret`?
    found, server = False, False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for name in ("environ", "cmdline"):
            try:
                data = _read(f"/proc/{pid}/{name}")
            except OSError:
                continue
            found = found or secret.encode() in data
            server = server or (name == "cmdline" and b"ember\0serve" in data)
    return found, server

SEIZE = '''
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206  # no stop: the tracee runs on; this process's exit detaches
rc = libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None)
print("ok" if rc == 0 else errno.errorcode.get(ctypes.get_errno()))
'''

def _ptrace(pid):
    out = subprocess.run([sys.executable, "-c", SEIZE, str(pid)], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip() or out.stderr.strip()[-200:]

def _mount():
    folder = tempfile.mkdtemp()
    try:
        if libc.mount(b"none", folder.encode(), b"tmpfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), "mount")
        libc.umount2(folder.encode(), 2)
    finally:
        os.rmdir(folder)

def _mount_in_own_namespace():
    # A user namespace of its own would make it root there, and mount would work.
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return "ok" if os.waitstatus_to_exitcode(status) == 0 else "EPERM"

def _open(path, flags):
    os.close(os.open(path, flags))  # opened only: nothing is read or written

def _mknod():
    folder = tempfile.mkdtemp()
    node = os.path.join(folder, "disk")
    try:
        os.mknod(node, 0o600 | 0o060000, os.makedev(*DISK))
        os.unlink(node)
    finally:
        os.rmdir(folder)

def handler(event, context):
    global DISK
    DISK = event["disk_dev"]
    secret_seen, server_seen = _scan_proc(event["secret"])
    return {
        "secret_seen": secret_seen,
        "server_seen": server_seen,
        "server_environ": _errno(lambda: _read(f"/proc/{event['server_pid']}/environ")),
        "victim_environ": _errno(lambda: _read(f"/proc/{event['victim_pid']}/environ")),
        "ptrace_victim": _ptrace(event["victim_pid"]),
        "ptrace_server": _ptrace(event["server_pid"]),
        "ptrace_init": _ptrace(1),
        "mount": _errno(_mount),
        "userns": _mount_in_own_namespace(),
        "devices": {p: _errno(lambda p=p: _open(p, os.O_WRONLY)) for p in event["devices"]},
        "mknod": _errno(_mknod),
        "dev": sorted(os.listdir("/dev")),
    }
"""


def _host_disk() -> tuple[str, tuple[int, int]]:
    """The block device holding the host's root folder: its /dev path and numbers."""
    dev = os.stat("/").st_dev
    for entry in Path("/dev").iterdir():
        try:
            info = entry.stat()
        except OSError:
            continue
        if stat.S_ISBLK(info.st_mode) and info.st_rdev == dev:
            return str(entry), (os.major(dev), os.minor(dev))
    return "/dev/sda", (os.major(dev), os.minor(dev))


def _host_pid(stream: str) -> int:
    """The host pid of the process whose variables name this log stream (the runtime)."""
    marker = f"AWS_LAMBDA_LOG_STREAM_NAME={stream}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    return 0


def _attack(srv: Server) -> dict[str, Any]:
    """Deploy a victim (warm, a secret in its variables) and an attacker; run the attack."""
    lam = srv.client()
    secret = uuid.uuid4().hex
    victim, attacker = f"victim-{secret[:8]}", f"attacker-{secret[:8]}"
    create_function(lam, victim, VICTIM, Environment={"Variables": {"VICTIM_SECRET": secret}})
    stream = json.loads(lam.invoke(FunctionName=victim)["Payload"].read())
    victim_pid = wait_until(lambda: _host_pid(stream), limit=10)
    create_function(lam, attacker, ATTACKER, Timeout=60)
    disk, numbers = _host_disk()
    event = {
        "secret": secret,
        "server_pid": srv.process.pid,
        "victim_pid": victim_pid,
        "devices": [disk, "/dev/loop-control", "/dev/kmsg"],
        "disk_dev": list(numbers),
    }
    resp = lam.invoke(FunctionName=attacker, Payload=json.dumps(event).encode())
    doc: dict[str, Any] = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, doc
    return doc


@pytest.fixture(scope="module")
def sandboxed(server: Server) -> dict[str, Any]:
    if NO_SANDBOX:
        pytest.skip(f"no bubblewrap here: {NO_SANDBOX}")
    return _attack(server)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The control: the same attacks with isolation off."""
    root = tmp_path_factory.mktemp("escape-plain")
    with run_server(root / "data", "--isolation", "none") as srv:
        yield _attack(srv)


def test_other_processes_proc_is_invisible(sandboxed: dict[str, Any], plain: Any) -> None:
    assert plain["secret_seen"]
    assert plain["server_seen"]
    assert plain["server_environ"] == plain["victim_environ"] == "ok"
    assert not sandboxed["secret_seen"]
    assert not sandboxed["server_seen"]
    assert sandboxed["server_environ"] == "ENOENT"
    assert sandboxed["victim_environ"] == "ENOENT"


def test_ptrace_fails(sandboxed: dict[str, Any], plain: Any) -> None:
    assert plain["ptrace_victim"] == plain["ptrace_server"] == "ok"
    assert sandboxed["ptrace_victim"] == sandboxed["ptrace_server"] == "ESRCH"  # not there
    assert sandboxed["ptrace_init"] == "EPERM"  # the sandbox's pid 1 is root's


def test_mount_fails(sandboxed: dict[str, Any], plain: Any) -> None:
    assert plain["mount"] == "ok"
    assert sandboxed["mount"] == "EPERM"


def test_no_user_namespace_to_be_root_in(sandboxed: dict[str, Any], plain: Any) -> None:
    """A user namespace of its own would make the function root there (mount, more of the
    kernel to attack)."""
    assert plain["userns"] == "ok"
    assert sandboxed["userns"] == "EPERM"


def test_host_devices_cannot_be_written(sandboxed: dict[str, Any], plain: Any) -> None:
    # Opened for writing only, never written. (This host refuses its disk even to root.)
    assert plain["devices"]["/dev/loop-control"] == plain["devices"]["/dev/kmsg"] == "ok"
    assert plain["mknod"] == "ok"
    assert set(sandboxed["devices"].values()) == {"ENOENT"}  # the sandbox's /dev has none
    assert sandboxed["mknod"] == "EPERM"
    assert not {"sda", "vda", "nvme0n1", "loop-control", "mem", "kmem"} & set(sandboxed["dev"])
