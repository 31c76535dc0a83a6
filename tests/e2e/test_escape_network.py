"""Escapes tried from inside a function over the network, and through the loader into the
host-side launcher processes. Each attack runs on the sandboxed server and, as the
control, on an `--isolation none` server where it succeeds: so each assertion shows what
the sandbox stops.

Sandboxed here means what `ember doctor` calls the network guarantee: bubblewrap started
by root, each environment in its own network namespace (Ember's Runtime API inside at
127.0.0.1:9001, host.ember.internal for the `--host-access` ports, and a way out through
the host's NAT that never leads back to the host).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests.e2e.harness import REPO, Server, create_function, make_zip, run_server, wait_until

pytestmark = pytest.mark.e2e


def _network_problem() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return "" if host.network else host.network_problem


NO_NETWORK = _network_problem()
needs_netns = pytest.mark.skipif(bool(NO_NETWORK), reason=f"no network isolation: {NO_NETWORK}")
MODES = [pytest.param("sandboxed", marks=needs_netns), "plain"]


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.server.server_address[1]}".encode()  # type: ignore[index]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _service() -> Iterator[int]:
    """An HTTP service on the host's loopback; its port."""
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            thread.join()


@pytest.fixture(scope="module")
def allowed() -> Iterator[int]:
    with _service() as port:
        yield port


@pytest.fixture(scope="module")
def forbidden() -> Iterator[int]:
    with _service() as port:
        yield port


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, allowed: int, forbidden: int
) -> Iterator[dict[str, Server]]:
    """The sandboxed server (only `allowed` reachable from functions) and the control."""
    root = tmp_path_factory.mktemp("escape-net")
    access = ("--host-access", str(allowed))
    with contextlib.ExitStack() as stack:
        found = {"plain": stack.enter_context(run_server(root / "plain", "--isolation", "none"))}
        if not NO_NETWORK:
            found["sandboxed"] = stack.enter_context(run_server(root / "sandboxed", *access))
        yield found


ATTACKER = r"""
import errno, os, socket, urllib.error, urllib.request

def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return {"status": answer.status, "body": answer.read(200).decode()}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "type": exc.headers.get("X-Amzn-ErrorType", ""),
                "body": exc.read(500).decode()}
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, OSError) and reason.errno is not None:
            return {"error": errno.errorcode.get(reason.errno, str(reason.errno))}
        return {"error": type(reason).__name__}

def _connect(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "ok"
    except socket.gaierror:
        return "unresolved"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else "timeout"

def _listening():
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A":
                    address, port = fields[1].split(":")
                    found.append([address, int(port, 16)])
    return found

def _gateway():
    with open("/proc/net/route") as rows:
        for row in list(rows)[1:]:
            fields = row.split()
            if fields[1] == "00000000":
                return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return None

def handler(event, context):
    out = {"runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"], "listening": _listening()}
    ember = event["ember_port"]
    out["ember_v4"] = _get(f"http://127.0.0.1:{ember}/2015-03-31/functions/")
    out["ember_v6"] = _connect("::1", ember)
    out["forbidden_direct"] = _connect("127.0.0.1", event["forbidden"])
    out["forbidden_via_name"] = _connect("host.ember.internal", event["forbidden"])
    out["allowed_direct"] = _get(f"http://127.0.0.1:{event['allowed']}/")
    out["allowed_via_name"] = _get(f"http://host.ember.internal:{event['allowed']}/")
    out["aws_endpoint"] = os.environ.get("AWS_ENDPOINT_URL", "")
    if out["aws_endpoint"]:
        out["door"] = _get(out["aws_endpoint"] + "/2015-03-31/functions/")
    out["gateway"] = _gateway()
    if out["gateway"]:  # the host's end of the way out
        out["ember_via_gateway"] = _connect(out["gateway"], ember)
    return out
"""

VICTIM = """
import os
def handler(event, context):
    return os.environ["AWS_LAMBDA_RUNTIME_API"]
"""


def _deploy(server: Server, name: str, code: str, **kwargs: Any) -> None:
    create_function(server.client(), name, code, Timeout=30, **kwargs)


def _invoke(server: Server, name: str, event: Any = None) -> Any:
    resp = server.client().invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    doc = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, doc
    return doc


@pytest.fixture(scope="module")
def attacks(servers: dict[str, Server], allowed: int, forbidden: int) -> dict[str, tuple[Any, str]]:
    """Per mode: what the attacker saw, and the victim's Runtime API address (warm, its
    runtime parked in GET /next while the attacker runs)."""
    seen = {}
    for mode, server in servers.items():
        victim, attacker = f"victim-{uuid.uuid4().hex[:6]}", f"attacker-{uuid.uuid4().hex[:6]}"
        _deploy(server, victim, VICTIM)
        _deploy(server, attacker, ATTACKER)
        address = _invoke(server, victim)
        event = {"ember_port": server.port, "allowed": allowed, "forbidden": forbidden}
        seen[mode] = (_invoke(server, attacker, event), address)
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_embers_api_is_out_of_reach(
    attacks: dict[str, tuple[Any, str]], servers: dict[str, Server], mode: str
) -> None:
    doc, _ = attacks[mode]
    if mode == "plain":  # the control: any function lists every function
        assert doc["ember_v4"]["status"] == 200
        assert "Functions" in doc["ember_v4"]["body"]
        return
    assert doc["ember_v4"] == {"error": "ECONNREFUSED"}
    assert doc["ember_v6"] == "ECONNREFUSED"


@pytest.mark.parametrize("mode", MODES)
def test_another_environments_runtime_api_is_out_of_reach(
    attacks: dict[str, tuple[Any, str]], servers: dict[str, Server], allowed: int, mode: str
) -> None:
    doc, victim = attacks[mode]
    port = victim.rsplit(":", 1)[1]
    listening = {(a, p) for a, p in doc["listening"]}
    if mode == "plain":  # the control: the victim's endpoint is there for the taking
        assert ("0100007F", int(port)) in listening
        return
    # Every environment's Runtime API is at 127.0.0.1:9001 in its own namespace: the
    # attacker's own. All it can see listening is its own endpoint and relays.
    assert victim == doc["runtime_api"] == "127.0.0.1:9001"
    relays = {("0200007F", allowed), ("0200007F", servers[mode].port)}
    assert listening == {("0100007F", 9001), *relays}


@pytest.mark.parametrize("mode", MODES)
def test_only_the_allowed_host_port_is_reachable(
    attacks: dict[str, tuple[Any, str]], allowed: int, mode: str
) -> None:
    doc, _ = attacks[mode]
    if mode == "plain":  # the control: everything on the host's loopback
        assert doc["forbidden_direct"] == "ok"
        assert doc["allowed_direct"]["status"] == 200
        return
    assert doc["forbidden_direct"] == "ECONNREFUSED"
    assert doc["forbidden_via_name"] == "ECONNREFUSED"
    assert doc["allowed_direct"] == {"error": "ECONNREFUSED"}
    assert doc["allowed_via_name"] == {"status": 200, "body": f"hello from {allowed}"}


@needs_netns
def test_the_way_out_never_leads_to_the_host(attacks: dict[str, tuple[Any, str]]) -> None:
    # Lambda without a VPC reaches the internet, and so do Ember's environments, through
    # the host's NAT (tests/e2e/test_outbound.py reaches a test host that way): the
    # default route's gateway is the host, yet the host itself answers nothing there.
    doc, _ = attacks["sandboxed"]
    assert doc["gateway"].startswith("169.254."), doc["gateway"]
    assert doc["ember_via_gateway"] == "timeout"


@pytest.mark.parametrize("mode", MODES)
def test_the_environment_door_wants_the_environments_credentials(
    attacks: dict[str, tuple[Any, str]], servers: dict[str, Server], mode: str
) -> None:
    """AWS_ENDPOINT_URL leads to Ember's environment door, not its public socket. The door's
    refusal of unsigned requests is the auth guard's: this expects AccessDenied-style 403."""
    doc, _ = attacks[mode]
    if mode == "plain":  # the control: the public URL, open on loopback
        assert doc["aws_endpoint"] == servers["plain"].endpoint
        assert doc["door"]["status"] == 200
        return
    assert doc["aws_endpoint"] == f"http://host.ember.internal:{servers[mode].port}"
    assert doc["door"]["status"] == 403, doc["door"]
    assert doc["door"]["type"].split(":")[0] in (
        "UnrecognizedClientException",
        "AccessDeniedException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    ), doc["door"]


# -- the loader: LD_PRELOAD, LD_AUDIT, GCONV_PATH -------------------------------------

# Its constructor leaves a file named after the process and its euid: in HOST_DIR, a host
# folder that does not exist inside the sandbox, and in /tmp (the sandbox's own).
EVIL_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void mark(const char *dir) {
    char comm[64] = "unknown", path[4096];
    int fd = open("/proc/self/comm", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, comm, sizeof comm - 1);
        if (n > 0) comm[n - 1] = 0;
        close(fd);
    }
    snprintf(path, sizeof path, "%s/" TOKEN "-%d-%s-euid%d", dir, (int)getpid(), comm,
             (int)geteuid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0) close(fd);
}

__attribute__((constructor)) static void evil(void) {
    mark(HOST_DIR);
    mark("/tmp");
}

unsigned int la_version(unsigned int version) { return version; }  /* LD_AUDIT */
"""

MARKS = """
import glob, os
def handler(event, context):
    names = [os.path.basename(p) for p in glob.glob("/tmp/" + event["token"] + "-*")]
    return {"marks": names, "env": {k: os.environ.get(k) for k in event["keys"]}}
"""

LOADER_KEYS = ["LD_PRELOAD", "LD_AUDIT", "GCONV_PATH"]


def _compile(folder: Path, token: str, host_dir: Path) -> bytes:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) to build the preloaded library")
    source = folder / "evil.c"
    source.write_text(EVIL_C)
    out = folder / "evil.so"
    subprocess.run(
        [cc, "-shared", "-fPIC", "-o", str(out), str(source),
         f'-DTOKEN="{token}"', f'-DHOST_DIR="{host_dir}"'],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


@pytest.mark.parametrize("mode", MODES)
def test_host_side_launchers_never_load_the_functions_library(
    servers: dict[str, Server], tmp_path: Path, mode: str
) -> None:
    server = servers[mode]
    token = f"ember{uuid.uuid4().hex[:10]}"
    host_dir = tmp_path / "marks"
    host_dir.mkdir()
    host_dir.chmod(0o777)  # whoever loads it, it may write here: only where it runs counts
    package = make_zip({"app.py": MARKS, "evil.so": _compile(tmp_path, token, host_dir)})
    # The zip's folder on the host is named for its SHA-256 (and visible in mountinfo): the
    # attacker points the loader at the library both inside and outside the sandbox.
    on_host = server.data_dir / "code" / hashlib.sha256(package).hexdigest() / "evil.so"
    paths = f"/var/task/evil.so:{on_host}"
    variables = {"LD_PRELOAD": paths, "LD_AUDIT": paths, "GCONV_PATH": f"/var/task:{on_host}"}
    name = f"preload-{uuid.uuid4().hex[:6]}"
    lam = server.client()
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="app.handler", Code={"ZipFile": package}, Timeout=30,
        Environment={"Variables": variables},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert on_host.is_file()
    try:
        doc = _invoke(server, name, {"token": token, "keys": LOADER_KEYS})
        outside = sorted(p.name for p in host_dir.iterdir())
    finally:
        for stray in Path("/tmp").glob(f"{token}-*"):  # the plain control's /tmp is the host's
            stray.unlink()
    # The function itself runs with its variables, as on Lambda.
    assert doc["env"] == variables
    if mode == "plain":  # the control: the program runs on the host, as Ember's user
        assert any("-python" in m for m in outside), outside
        return
    assert outside == []  # no host-side process (sh, bubblewrap) loaded it
    assert doc["marks"], "the runtime itself should have loaded the library"
    # Inside, only the sandbox user's processes loaded it (never setpriv, still root).
    assert all(m.endswith("-euid993") for m in doc["marks"]), doc["marks"]


@needs_netns
def test_doctor_and_the_start_up_line_say_the_network_holds(
    servers: dict[str, Server],
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ember", "doctor"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert "[ok] network: own network namespace per environment" in result.stdout
    assert "own network namespace" in servers["sandboxed"].output()
    assert "isolation: none" in servers["plain"].output()


def _namespaces_held(server: Server) -> set[str]:
    """The network namespaces ("net:[inode]") the server process holds an fd of: those of
    its environments, and those its pool keeps ready for the next cold starts."""
    held = set()
    for fd in Path(f"/proc/{server.process.pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("net:["):
                held.add(target)
    return held


OWN_NETNS = """
import os
def handler(event, context):
    return os.readlink("/proc/self/ns/net")
"""


@needs_netns
def test_an_environment_gone_leaves_no_namespace_behind(servers: dict[str, Server]) -> None:
    server = servers["sandboxed"]
    name = f"brief-{uuid.uuid4().hex[:6]}"
    _deploy(server, name, OWN_NETNS)
    netns = _invoke(server, name)
    assert netns in _namespaces_held(server)  # the environment's, held while it lives
    server.client().delete_function(FunctionName=name)  # its environment shuts down
    wait_until(lambda: netns not in _namespaces_held(server))


REACH = """
import urllib.error, urllib.request
def handler(event, context):
    out = {}
    for port in event["ports"]:
        try:
            with urllib.request.urlopen(f"http://host.ember.internal:{port}/", timeout=5) as r:
                out[str(port)] = r.status
        except urllib.error.HTTPError as exc:
            out[str(port)] = exc.code
        except urllib.error.URLError as exc:
            out[str(port)] = type(exc.reason).__name__
    return out
"""


@needs_netns
def test_host_access_all_relays_what_listens_but_never_embers_public_socket(
    tmp_path: Path, allowed: int, forbidden: int
) -> None:
    with run_server(tmp_path / "data", "--host-access", "all") as server:
        name = f"reach-{uuid.uuid4().hex[:6]}"
        _deploy(server, name, REACH)
        doc = _invoke(server, name, {"ports": [allowed, forbidden, server.port]})
    assert doc[str(allowed)] == doc[str(forbidden)] == 200
    # Ember's port leads to the environment door, which wants the environment's own
    # credentials: never the public API, open on loopback.
    assert doc[str(server.port)] == 403
