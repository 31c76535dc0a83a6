"""Ember's Python runtime (ember/runtimes/python) against a fake Runtime API.

Each test writes a small function into a temporary task root, runs the real bootstrap
as a subprocess on every python3.8-3.14 found (pyenv's real binaries, never its shims),
and checks what it posts to a `ThreadingHTTPServer` standing in for the Runtime API,
against the shapes awslambdaric produces.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

BOOTSTRAP = Path(__file__).resolve().parents[3] / "ember" / "runtimes" / "python" / "bootstrap.py"
VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"
TIMEOUT = 15.0


def find_interpreter(version: str) -> str | None:
    """A real python3.X binary: pyenv's versions first, then PATH (skipping shims)."""
    candidates = sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")),
        reverse=True,
    )
    candidates += sorted(glob.glob(f"/root/.pyenv/versions/{version}*/bin/python{version}"))
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for path in candidates:
        try:
            with open(path, "rb") as f:
                if f.read(2) != b"#!":  # a shim script, ~100 ms a start
                    return path
        except OSError:
            continue
    return None


@pytest.fixture(params=VERSIONS, ids=[f"py{v}" for v in VERSIONS])
def python(request: pytest.FixtureRequest) -> str:
    path = find_interpreter(request.param)
    if path is None:
        pytest.skip(f"python{request.param} not installed (no ~/.pyenv/versions binary or PATH)")
    return path


# --- the fake Runtime API ---------------------------------------------------------------


@dataclass
class Invocation:
    event: bytes = b'{"key": "value"}'
    request_id: str = "req-1"
    headers: dict[str, str] = field(default_factory=dict)
    deadline_ms: int | None = None  # default: now + 60 s
    chunked: bool = False


@dataclass
class Post:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    stdout: bytes  # everything the runtime had written to stdout when the post arrived
    stderr: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeRuntimeAPI:
    """Hands out queued invocations on /next (blocking when none), records every post."""

    def __init__(self, *, drop_after_post: bool = False) -> None:
        self.invocations: queue.Queue[Invocation] = queue.Queue()
        self.posts: list[Post] = []
        self.next_calls = 0
        self.connections = 0
        self.drop_after_post = drop_after_post
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._pipes: tuple[int, int] | None = None
        self._stopped = threading.Event()
        self._changed = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with api._changed:
                    api.connections += 1

            def do_GET(self) -> None:
                assert self.path == NEXT, self.path
                with api._changed:
                    api.next_calls += 1
                    api._changed.notify_all()
                while not api._stopped.is_set():
                    try:
                        invocation = api.invocations.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    self._send_invocation(invocation)
                    return
                self.close_connection = True

            def _send_invocation(self, inv: Invocation) -> None:
                deadline = inv.deadline_ms or int(time.time() * 1000) + 60_000
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", inv.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:fn",
                )
                self.send_header("Content-Type", "application/json")
                for name, value in inv.headers.items():
                    self.send_header(name, value)
                if inv.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = len(inv.event) // 2
                    for part in (inv.event[:half], inv.event[half:], b""):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                else:
                    self.send_header("Content-Length", str(len(inv.event)))
                    self.end_headers()
                    self.wfile.write(inv.event)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                api._drain_pipes()
                post = Post(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    bytes(api.stdout),
                    bytes(api.stderr),
                )
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "16")
                self.end_headers()
                self.wfile.write(b'{"status":"OK"}\n')
                if api.drop_after_post:
                    # Close without saying so: the runtime finds out on its next request.
                    self.close_connection = True
                with api._changed:
                    api.posts.append(post)
                    api._changed.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def watch(self, stdout: int, stderr: int) -> None:
        """Read the runtime's pipes when a post arrives, as Ember's server does."""
        os.set_blocking(stdout, False)
        os.set_blocking(stderr, False)
        self._pipes = (stdout, stderr)

    def _drain_pipes(self, until_eof: bool = False) -> None:
        if self._pipes is None:
            return
        for fd, sink in zip(self._pipes, (self.stdout, self.stderr), strict=True):
            if until_eof:
                os.set_blocking(fd, True)
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                sink += data

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; posts: {self.posts}")
                self._changed.wait(remaining)

    def stop(self) -> None:
        self._stopped.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Run:
    posts: list[Post]
    returncode: int
    stdout: str
    stderr: str
    next_calls: int
    connections: int


class Harness:
    def __init__(self, python: str, task_root: Path) -> None:
        self.python = python
        self.task_root = task_root
        self._apis: list[FakeRuntimeAPI] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    def write(self, files: dict[str, str]) -> None:
        for name, source in files.items():
            path = self.task_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))

    def start(
        self,
        invocations: list[Invocation],
        handler: str = "app.handler",
        env: dict[str, str] | None = None,
        **api_options: bool,
    ) -> tuple[FakeRuntimeAPI, subprocess.Popen[bytes]]:
        api = FakeRuntimeAPI(**api_options)
        self._apis.append(api)
        for invocation in invocations:
            api.invocations.put(invocation)
        full_env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
            **(env or {}),
        }
        proc = subprocess.Popen(
            [self.python, "-S", "-B", str(BOOTSTRAP)],
            env=full_env,
            cwd=self.task_root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._procs.append(proc)
        assert proc.stdout is not None
        assert proc.stderr is not None
        api.watch(proc.stdout.fileno(), proc.stderr.fileno())
        return api, proc

    def run(
        self,
        files: dict[str, str],
        invocations: list[Invocation] | None = None,
        handler: str = "app.handler",
        env: dict[str, str] | None = None,
        expect_exit: bool = False,
        **api_options: bool,
    ) -> Run:
        """Run the runtime until it has answered every invocation (or exited)."""
        self.write(files)
        invocations = [Invocation()] if invocations is None else invocations
        api, proc = self.start(invocations, handler, env, **api_options)
        if expect_exit:
            proc.wait(TIMEOUT)
        else:
            count = len(invocations)
            api.wait_for(lambda: len(api.posts) >= count, f"{count} posts")
            # Back on /next: idle, as after every invocation on Lambda.
            api.wait_for(lambda: api.next_calls > count, "the next /next")
            proc.send_signal(signal.SIGTERM)
            proc.wait(TIMEOUT)
        return self._finish(api, proc)

    def _finish(self, api: FakeRuntimeAPI, proc: subprocess.Popen[bytes]) -> Run:
        api._drain_pipes(until_eof=True)
        api.stop()
        return Run(
            posts=list(api.posts),
            returncode=proc.returncode,
            stdout=api.stdout.decode(),
            stderr=api.stderr.decode(),
            next_calls=api.next_calls,
            connections=api.connections,
        )

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        for api in self._apis:
            if not api._stopped.is_set():
                api.stop()


@pytest.fixture
def runtime(python: str, tmp_path: Path) -> Iterator[Harness]:
    task_root = tmp_path / "task"
    task_root.mkdir()
    harness = Harness(python, task_root)
    yield harness
    harness.close()


def frame(root: Path, line: int, name: str, source: str, file: str = "app.py") -> str:
    return f'  File "{root / file}", line {line}, in {name}\n    {source}\n'


# --- results -----------------------------------------------------------------------------


def test_posts_the_json_result(runtime: Harness) -> None:
    run = runtime.run(
        {"app.py": "def handler(event, context):\n    return {'echo': event, 'n': 1}\n"}
    )
    [post] = run.posts
    assert post.path == "/2018-06-01/runtime/invocation/req-1/response"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {"echo": {"key": "value"}, "n": 1}
    assert run.returncode == -signal.SIGTERM


def test_none_result_is_null(runtime: Harness) -> None:
    run = runtime.run({"app.py": "def handler(event, context):\n    pass\n"})
    [post] = run.posts
    assert post.path.endswith("/req-1/response")
    assert post.body == b"null"


def test_bytes_and_decimal_results(runtime: Harness) -> None:
    source = """\
        import decimal
        def handler(event, context):
            if event == 'bytes':
                return b'\\x00raw'
            return {'price': decimal.Decimal('1.5'), 'nan': decimal.Decimal('NaN')}
        """
    run = runtime.run(
        {"app.py": source},
        [Invocation(b'"bytes"', "r1"), Invocation(b'"decimal"', "r2")],
    )
    raw, decimals = run.posts
    assert raw.body == b"\x00raw"
    assert raw.headers["content-type"] == "application/unknown"
    assert decimals.body == b'{"price": 1.5, "nan": NaN}'


def test_non_ascii_escaping_follows_the_runtime_version(runtime: Harness) -> None:
    files = {"app.py": "def handler(event, context):\n    return 'h\\u00e9'\n"}
    escaped = runtime.run(files, env={"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"})
    assert escaped.posts[0].body == b'"h\\u00e9"'
    raw = runtime.run(files, env={"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"})
    assert raw.posts[0].body == '"hé"'.encode()


def test_globals_survive_between_invocations(runtime: Harness) -> None:
    source = """\
        calls = 0
        def handler(event, context):
            global calls
            calls += 1
            return calls
        """
    run = runtime.run({"app.py": source}, [Invocation(request_id="a"), Invocation(request_id="b")])
    assert [(p.path.split("/")[-2], p.body) for p in run.posts] == [("a", b"1"), ("b", b"2")]
    assert run.connections == 1  # one keep-alive connection for init and both invocations


def test_handlers_in_packages_and_folders(runtime: Harness) -> None:
    runtime.write(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "def handler(event, context):\n    return 'pkg'\n",
            "src/app.py": "def handler(event, context):\n    return 'dir'\n",
        }
    )
    assert runtime.run({}, handler="pkg.mod.handler").posts[0].body == b'"pkg"'
    assert runtime.run({}, handler="src/app.handler").posts[0].body == b'"dir"'


# --- invocation errors ---------------------------------------------------------------------


def test_handler_exception_payload(runtime: Harness) -> None:
    source = """\
        def handler(event, context):
            helper()

        def helper():
            raise ValueError("bad value")
        """
    run = runtime.run({"app.py": source})
    [post] = run.posts
    root = runtime.task_root
    assert post.path == "/2018-06-01/runtime/invocation/req-1/error"
    assert post.headers["lambda-runtime-function-error-type"] == "ValueError"
    body = post.json()
    assert isinstance(body, dict)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body == {
        "errorMessage": "bad value",
        "errorType": "ValueError",
        "requestId": "req-1",
        "stackTrace": [
            frame(root, 2, "handler", "helper()"),
            frame(root, 5, "helper", 'raise ValueError("bad value")'),
        ],
    }
    cause = json.loads(post.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "ValueError"
    assert [s["label"] for s in cause["exceptions"][0]["stack"]] == ["handler", "helper"]
    # Logged as one event: lines joined by \r, indentation as NO-BREAK SPACEs.
    nbsp = "\u00a0"
    assert (
        "[ERROR] ValueError: bad value\rTraceback (most recent call last):\r"
        f'{nbsp * 2}File "{root / "app.py"}", line 2, in handler\r{nbsp * 4}helper()\r'
    ) in run.stdout


def test_marshal_error(runtime: Harness) -> None:
    run = runtime.run({"app.py": "def handler(event, context):\n    return {1, 2}\n"})
    [post] = run.posts
    assert post.path.endswith("/req-1/error")
    assert post.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    assert post.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": "req-1",
        "stackTrace": [],
    }


def test_unmarshal_error(runtime: Harness) -> None:
    run = runtime.run(
        {"app.py": "def handler(event, context):\n    return event\n"}, [Invocation(b"{nope")]
    )
    assert run.posts[0].json() == {
        "errorMessage": "Unable to unmarshal input: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)",
        "errorType": "Runtime.UnmarshalError",
        "requestId": "req-1",
        "stackTrace": [],
    }


def test_failed_invocation_does_not_end_the_environment(runtime: Harness) -> None:
    source = """\
        def handler(event, context):
            if event == "fail":
                raise RuntimeError("no")
            return "ok"
        """
    run = runtime.run(
        {"app.py": source}, [Invocation(b'"fail"', "r1"), Invocation(b'"fine"', "r2")]
    )
    assert [p.path.rsplit("/", 1)[-1] for p in run.posts] == ["error", "response"]
    assert run.posts[1].body == b'"ok"'


# --- init errors ---------------------------------------------------------------------------


def assert_init_error(run: Run, error_type: str, message: str, trace: list[str]) -> None:
    [post] = run.posts
    assert post.path == INIT_ERROR
    assert post.headers["lambda-runtime-function-error-type"] == error_type
    assert post.json() == {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "",
        "stackTrace": trace,
    }
    assert run.returncode == 1
    assert run.next_calls == 0
    assert re.search(
        r"^\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t\tLAMBDA_WARNING: Unhandled "
        r"exception\. The most likely cause is an issue in the function code\.",
        run.stdout,
        re.MULTILINE,
    )
    assert f"[ERROR] {error_type}: {message}\rTraceback (most recent call last):" in run.stdout


def test_import_error_of_the_handler_module(runtime: Harness) -> None:
    run = runtime.run({}, handler="missing.handler", expect_exit=True)
    assert_init_error(
        run,
        "Runtime.ImportModuleError",
        "Unable to import module 'missing': No module named 'missing'",
        [],
    )


def test_import_error_inside_the_handler_module(runtime: Harness) -> None:
    run = runtime.run({"app.py": "import not_installed\n"}, expect_exit=True)
    assert_init_error(
        run,
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'not_installed'",
        [],
    )


def test_syntax_error(runtime: Harness) -> None:
    run = runtime.run({"app.py": "x = 1\ndef handler(:\n    pass\n"}, expect_exit=True)
    [post] = run.posts
    body = post.json()
    assert isinstance(body, dict)
    assert re.fullmatch(
        r"Syntax error in module 'app': .+ \(app\.py, line 2\)", body["errorMessage"]
    )
    assert_init_error(
        run,
        "Runtime.UserCodeSyntaxError",
        body["errorMessage"],
        [f'  File "{runtime.task_root / "app.py"}" Line 2\n    def handler(:\n'],
    )


def test_handler_not_found(runtime: Harness) -> None:
    run = runtime.run({"app.py": "def other(event, context):\n    pass\n"}, expect_exit=True)
    assert_init_error(
        run, "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'", []
    )


def test_malformed_handler_name(runtime: Harness) -> None:
    run = runtime.run({}, handler="nodots", expect_exit=True)
    assert_init_error(
        run,
        "Runtime.MalformedHandlerName",
        "Bad handler 'nodots': not enough values to unpack (expected 2, got 1)",
        [],
    )


def test_built_in_module_conflict(runtime: Harness) -> None:
    run = runtime.run({}, handler="sys.handler", expect_exit=True)
    assert_init_error(
        run,
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module sys as a handler module",
        [],
    )


def test_exception_while_importing_the_module(runtime: Harness) -> None:
    run = runtime.run({"app.py": "x = 1\nraise KeyError('boom')\n"}, expect_exit=True)
    [post] = run.posts
    body = post.json()
    assert isinstance(body, dict)
    trace = body["stackTrace"]
    # As on Lambda: importlib's frames first, then the module's; none of the runtime's.
    assert trace[0].startswith('  File "')
    assert "importlib" in trace[0]
    assert trace[-1] == frame(runtime.task_root, 2, "<module>", "raise KeyError('boom')")
    assert not any("_ember_" in t or "bootstrap.py" in t for t in trace)
    assert_init_error(run, "KeyError", "'boom'", trace)


# --- the context ---------------------------------------------------------------------------

CONTEXT_HANDLER = """\
    import time
    def handler(event, context):
        identity = context.identity
        cc = context.client_context
        return {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "tenant_id": context.tenant_id,
            "remaining": context.get_remaining_time_in_millis(),
            "identity": [identity.cognito_identity_id, identity.cognito_identity_pool_id],
            "client_context": None if cc is None else {
                "custom": cc.custom,
                "env": cc.env,
                "client": None if cc.client is None else [
                    cc.client.installation_id, cc.client.app_title,
                    cc.client.app_version_name, cc.client.app_version_code,
                    cc.client.app_package_name,
                ],
            },
            "w3c": context.w3c(),
        }
    """


def test_context_fields(runtime: Harness) -> None:
    deadline = int(time.time() * 1000) + 30_000
    invocations = [
        Invocation(request_id="r1", deadline_ms=deadline),
        Invocation(request_id="r2", deadline_ms=1, headers={"Lambda-Runtime-Aws-Tenant-Id": "t"}),
    ]
    run = runtime.run({"app.py": CONTEXT_HANDLER}, invocations)
    first, second = (p.json() for p in run.posts)
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    remaining = first.pop("remaining")
    assert 20_000 < remaining <= 30_000
    assert first == {
        "aws_request_id": "r1",
        "function_name": "fn",
        "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "memory_limit_in_mb": "128",  # a string, as awslambdaric reads it from the env
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/01/01/[$LATEST]abc",
        "tenant_id": None,
        "identity": [None, None],
        "client_context": None,
        "w3c": {},
    }
    assert second["remaining"] == 0  # a deadline in the past
    assert second["tenant_id"] == "t"


def test_client_context_and_cognito_identity(runtime: Harness) -> None:
    client_context = {
        "client": {
            "installation_id": "inst",
            "app_title": "title",
            "app_version_name": "1.0",
            "app_version_code": "10",
            "app_package_name": "com.example",
        },
        "custom": {"k": "v"},
        "env": {"platform": "android"},
        "w3c": {"traceparent": "00-abc-01", "tracestate": 7, "other": "x"},
    }
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    headers = {
        "Lambda-Runtime-Client-Context": json.dumps(client_context),
        "Lambda-Runtime-Cognito-Identity": json.dumps(identity),
    }
    run = runtime.run({"app.py": CONTEXT_HANDLER}, [Invocation(headers=headers)])
    result = run.posts[0].json()
    assert isinstance(result, dict)
    assert result["identity"] == ["id-1", "pool-1"]
    assert result["client_context"] == {
        "custom": {"k": "v"},
        "env": {"platform": "android"},
        "client": ["inst", "title", "1.0", "10", "com.example"],
    }
    assert result["w3c"] == {"traceparent": "00-abc-01"}


def test_unparsable_client_context(runtime: Harness) -> None:
    headers = {"Lambda-Runtime-Client-Context": "{not json"}
    run = runtime.run({"app.py": CONTEXT_HANDLER}, [Invocation(headers=headers)])
    body = run.posts[0].json()
    assert isinstance(body, dict)
    assert body["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert body["errorMessage"].startswith("Unable to parse Client Context JSON: Expecting")


def test_trace_id_env_var(runtime: Harness) -> None:
    source = (
        "import os\ndef handler(event, context):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"
    )
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    invocations = [
        Invocation(request_id="r1", headers={"Lambda-Runtime-Trace-Id": trace}),
        Invocation(request_id="r2"),
    ]
    run = runtime.run({"app.py": source}, invocations)
    assert [p.json() for p in run.posts] == [trace, None]


# --- output and logging --------------------------------------------------------------------


def test_output_reaches_the_pipes_before_the_response(runtime: Harness) -> None:
    source = """\
        import sys
        print("at init")
        def handler(event, context):
            print("from the handler")
            print("no newline", end="")
            sys.stderr.write("to stderr\\n")
            context.log("via context.log\\n")
            print("no newline at the end", end="")
            sys.stderr.write("nor here")
            return "done"
        """
    run = runtime.run({"app.py": source})
    [post] = run.posts
    assert post.stdout == (
        b"at init\nfrom the handler\nno newlinevia context.log\nno newline at the end"
    )
    assert post.stderr == b"to stderr\nnor here"


def test_output_lines_reach_the_pipe_while_the_handler_runs(
    runtime: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "seen"
    source = f"""\
        import os, sys, time
        def handler(event, context):
            print("waiting")
            sys.stderr.write("on stderr too\\n")
            deadline = time.monotonic() + 10
            while not os.path.exists({str(marker)!r}) and time.monotonic() < deadline:
                time.sleep(0.01)
            return os.path.exists({str(marker)!r})
        """
    runtime.write({"app.py": source})
    api, _ = runtime.start([Invocation()])
    deadline = time.monotonic() + TIMEOUT
    while b"waiting\n" not in api.stdout or b"on stderr too\n" not in api.stderr:
        assert time.monotonic() < deadline, "the handler's lines never reached the pipes"
        time.sleep(0.01)
        api._drain_pipes()
    marker.touch()
    api.wait_for(lambda: len(api.posts) == 1, "the response")
    assert api.posts[0].body == b"true"


def test_logging_goes_to_stdout_in_lambdas_format(runtime: Harness) -> None:
    source = """\
        import logging
        logging.getLogger().info("hidden at the default level")
        def handler(event, context):
            logging.getLogger("mine").warning("careful %s", "now")
            logging.info("hidden too")
            return "ok"
        """
    run = runtime.run({"app.py": source})
    lines = run.posts[0].stdout.decode().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-1\tcareful now", lines[0]
    )


def test_log_level_from_the_environment(runtime: Harness) -> None:
    source = """\
        import logging
        def handler(event, context):
            logging.debug("debug line")
            return "ok"
        """
    run = runtime.run({"app.py": source}, env={"AWS_LAMBDA_LOG_LEVEL": "TRACE"})
    assert re.search(r"^\[DEBUG\]\t\S+Z\treq-1\tdebug line$", run.stdout, re.MULTILINE)


def test_json_log_format(runtime: Harness) -> None:
    source = """\
        import logging
        def handler(event, context):
            logging.getLogger("mine").error("oops", extra={"order": 7})
            raise ValueError("bad")
        """
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    run = runtime.run({"app.py": source}, env=env)
    record, error = (json.loads(line) for line in run.posts[0].stdout.decode().splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.pop("timestamp"))
    assert record == {
        "level": "ERROR",
        "message": "oops",
        "logger": "mine",
        "requestId": "req-1",
        "order": 7,
    }
    assert error["level"] == "ERROR"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == "req-1"


def test_logging_is_configured_even_when_imported_late(runtime: Harness) -> None:
    source = """\
        import sys
        def handler(event, context):
            loaded_before = "logging" in sys.modules
            import logging
            logging.warning("late")
            return loaded_before
        """
    run = runtime.run({"app.py": source})
    assert run.posts[0].body == b"false"  # the runtime did not pay for logging at start-up
    assert re.search(r"^\[WARNING\]\t\S+Z\treq-1\tlate$", run.stdout, re.MULTILINE)


# --- sys.path --------------------------------------------------------------------------------

SYS_PATH_HANDLER = """\
    import importlib.machinery, os, sys
    def handler(event, context):
        return {
            "path": sys.path,
            "PYTHONPATH": os.environ.get("PYTHONPATH"),
            # From sys.path, that is: the runtime's modules are in sys.modules.
            "runtime_importable": any(
                importlib.machinery.PathFinder.find_spec(m) is not None
                for m in ("bootstrap", "_ember_runtime")
            ),
        }
    """


def test_sys_path_puts_the_task_root_then_layers_first(runtime: Harness, python: str) -> None:
    run = runtime.run({"app.py": SYS_PATH_HANDLER}, env={"LAMBDA_RUNTIME_DIR": "/var/runtime"})
    result = run.posts[0].json()
    assert isinstance(result, dict)
    version = re.search(r"python(3\.\d+)$", python)
    assert version is not None
    assert result["path"][:3] == [
        str(runtime.task_root),
        f"/opt/python/lib/python{version.group(1)}/site-packages",
        "/opt/python",
    ]
    assert str(BOOTSTRAP.parent) not in result["path"]
    assert result["runtime_importable"] is False
    assert result["PYTHONPATH"] == "/var/runtime"  # for child Pythons, as Lambda sets it


def test_pythonpath_replaces_the_layer_folders(runtime: Harness, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "helper.py").write_text("VALUE = 'from PYTHONPATH'\n")
    source = SYS_PATH_HANDLER.replace(
        '"path": sys.path,', '"path": sys.path, "v": __import__("helper").VALUE,'
    )
    env = {"PYTHONPATH": str(extra), "LAMBDA_RUNTIME_DIR": "/var/runtime"}
    run = runtime.run({"app.py": source}, env=env)
    result = run.posts[0].json()
    assert isinstance(result, dict)
    assert result["path"][:2] == [str(runtime.task_root), str(extra)]
    assert not any(p.startswith("/opt/python") for p in result["path"])
    assert result["v"] == "from PYTHONPATH"
    assert result["PYTHONPATH"] == str(extra)


def test_pth_files_in_the_task_root_are_processed(runtime: Harness, tmp_path: Path) -> None:
    vendored = tmp_path / "vendored"
    vendored.mkdir()
    (vendored / "vendored_mod.py").write_text("VALUE = 42\n")
    runtime.write({"extra.pth": f"{vendored}\n"})
    source = "import vendored_mod\ndef handler(event, context):\n    return vendored_mod.VALUE\n"
    assert runtime.run({"app.py": source}).posts[0].body == b"42"


# --- the connection and the process ----------------------------------------------------------


def test_reconnects_when_the_server_drops_the_connection(runtime: Harness) -> None:
    source = "def handler(event, context):\n    return event\n"
    invocations = [Invocation(b"1", "r1"), Invocation(b"2", "r2")]
    run = runtime.run({"app.py": source}, invocations, drop_after_post=True)
    assert [p.body for p in run.posts] == [b"1", b"2"]
    assert run.connections == 3  # a new one after each dropped post


def test_chunked_events(runtime: Harness) -> None:
    source = "def handler(event, context):\n    return event\n"
    event = json.dumps({"data": "x" * 200_000}).encode()
    run = runtime.run({"app.py": source}, [Invocation(event, chunked=True)])
    assert run.posts[0].body == event


def test_large_events(runtime: Harness) -> None:
    source = "def handler(event, context):\n    return len(event['data'])\n"
    event = json.dumps({"data": "y" * 5_000_000}).encode()
    run = runtime.run({"app.py": source}, [Invocation(event)])
    assert run.posts[0].body == b"5000000"


def test_sigterm_while_waiting_ends_the_process(runtime: Harness) -> None:
    runtime.write({"app.py": "def handler(event, context):\n    pass\n"})
    api, proc = runtime.start([])
    api.wait_for(lambda: api.next_calls == 1, "the first /next")
    proc.send_signal(signal.SIGTERM)
    # Killed by the signal while /next is unanswered (it never will be): a runtime that
    # deferred SIGTERM until /next returned would still be waiting at the deadline.
    assert proc.wait(TIMEOUT) == -signal.SIGTERM


# --- boto3 and botocore (the shared SDK folder, ember/runtimes/catalog.py) -------------------


def test_sdk_folder_goes_after_the_task_root_and_layers(runtime: Harness, tmp_path: Path) -> None:
    sdk = tmp_path / "sdk"
    (sdk / "botocore").mkdir(parents=True)
    (sdk / "botocore" / "__init__.py").write_text("__version__ = 'shared'\n")
    source = SYS_PATH_HANDLER.replace(
        '"path": sys.path,',
        '"path": sys.path, "v": __import__("botocore").__version__,'
        ' "seen": os.environ.get("_EMBER_SDK_DIR"),',
    )
    env = {"_EMBER_SDK_DIR": str(sdk), "LAMBDA_RUNTIME_DIR": "/var/runtime"}
    result = runtime.run({"app.py": source}, env=env).posts[0].json()
    assert result["path"][:4] == [
        str(runtime.task_root),
        result["path"][1],  # /opt/python/lib/python3.X/site-packages
        "/opt/python",
        str(sdk),
    ]
    assert result["v"] == "shared"
    assert result["seen"] is None  # Ember's variable is gone before the handler loads
    assert result["PYTHONPATH"] == f"/var/runtime:{sdk}"  # child Pythons find boto3 too

    # A copy in the function's own code wins.
    (runtime.task_root / "botocore").mkdir()
    (runtime.task_root / "botocore" / "__init__.py").write_text("__version__ = 'vendored'\n")
    assert runtime.run({"app.py": source}, env=env).posts[0].json()["v"] == "vendored"


def test_sdk_folder_follows_a_functions_own_pythonpath(runtime: Harness, tmp_path: Path) -> None:
    sdk, extra = tmp_path / "sdk", tmp_path / "extra"
    sdk.mkdir()
    extra.mkdir()
    env = {"_EMBER_SDK_DIR": str(sdk), "PYTHONPATH": str(extra)}
    result = runtime.run({"app.py": SYS_PATH_HANDLER}, env=env).posts[0].json()
    assert result["path"][:2] == [str(runtime.task_root), str(extra)]
    assert result["path"][-1] == str(sdk)
