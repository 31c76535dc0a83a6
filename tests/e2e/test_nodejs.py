"""Node.js functions (nodejs18.x-22.x) on Ember's own Node runtime, driven by boto3 as on
Lambda: handler forms (CommonJS, ES modules, callbacks, nested paths), the context object,
log lines, errors and init errors in AWS's shapes, timeouts, layers, the sandbox."""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.runtimes.node import discover_nodes
from ember.sandbox import Isolation, probe
from tests.e2e.harness import Server, create_function, make_zip, run_server

NODES = discover_nodes() if shutil.which("node") or shutil.which("nodejs") else {}
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not NODES, reason="no node binary on this host"),
]
# The runtime the tests use: the first of these majors this host has a node for.
MAJOR = next((m for m in ("20", "22", "18") if m in NODES), "20")
RUNTIME = f"nodejs{MAJOR}.x"


def _sandboxed() -> bool:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return host.namespaces and host.tree is not None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("nodejs") / "data") as srv:
        yield srv


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _deploy(lam: Any, files: dict[str, str], handler: str = "index.handler", **kw: Any) -> str:
    name = _name("node")
    create_function(lam, name, files, handler=handler, runtime=kw.pop("runtime", RUNTIME), **kw)
    return name


def _invoke(lam: Any, name: str, payload: Any = None, **kw: Any) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kw)
    return resp, json.loads(resp["Payload"].read() or b"null")


def _tail(resp: dict[str, Any]) -> str:
    return base64.b64decode(resp["LogResult"]).decode()


CONTEXT = """
exports.handler = async (event, context) => {
  console.log('hello', event.who);
  console.log('two\\nlines');
  return {
    event,
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop,
    clientContext: context.clientContext,
    identity: context.identity === undefined ? 'undefined' : context.identity,
    trace: process.env._X_AMZN_TRACE_ID,
    env: Object.fromEntries(['AWS_EXECUTION_ENV', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
      'NODE_PATH', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_REGION', '_HANDLER', 'TZ', 'PATH']
      .map((k) => [k, process.env[k]])),
    node: process.version,
    cwd: process.cwd(),
  };
};
"""


def test_async_commonjs_handler_gets_lambdas_context_environment_and_log_format(lam: Any) -> None:
    name = _deploy(lam, {"index.js": CONTEXT}, MemorySize=256, Timeout=7)
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    resp, doc = _invoke(lam, name, {"who": "node"}, LogType="Tail", ClientContext=client_context)
    assert "FunctionError" not in resp
    rid = resp["ResponseMetadata"]["RequestId"]
    assert doc["event"] == {"who": "node"}
    assert doc["awsRequestId"] == rid
    assert doc["functionName"] == name
    assert doc["functionVersion"] == "$LATEST"
    assert doc["invokedFunctionArn"].endswith(f":function:{name}")
    assert doc["memoryLimitInMB"] == "256"  # a string, as Lambda's Node runtime gives it
    assert doc["logGroupName"] == f"/aws/lambda/{name}"
    assert doc["logStreamName"]
    assert 0 < doc["remaining"] <= 7000
    assert doc["waits"] is True
    assert doc["clientContext"] == {"custom": {"k": "v"}}
    assert doc["identity"] == "undefined"
    assert doc["trace"].startswith("Root=1-")
    assert doc["env"] == {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
        "LAMBDA_TASK_ROOT": doc["cwd"],
        "LAMBDA_RUNTIME_DIR": doc["env"]["LAMBDA_RUNTIME_DIR"],
        "NODE_PATH": doc["env"]["NODE_PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_REGION": "us-east-1",
        "_HANDLER": "index.handler",
        "TZ": ":UTC",
        "PATH": doc["env"]["PATH"],
    }
    assert doc["node"].startswith(f"v{MAJOR}.")
    if doc["cwd"] == "/var/task":  # sandboxed: Lambda's own paths
        assert doc["env"]["NODE_PATH"] == (
            f"/opt/nodejs/node{MAJOR}/node_modules:/opt/nodejs/node_modules:"
            "/var/runtime/node_modules:/var/runtime:/var/task"
        )
        assert doc["env"]["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    tail = _tail(resp)
    line = re.compile(
        rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tINFO\thello node$", re.M
    )
    assert line.search(tail), tail
    assert f"{rid}\tINFO\ttwo\rlines\n" in tail  # one log event per console.log
    _, again = _invoke(lam, name)
    assert again["trace"] != doc["trace"]  # a trace per invocation


def test_json_log_format_and_application_log_level(lam: Any) -> None:
    code = (
        "exports.handler = async () => {\n"
        "  console.debug('hidden'); console.log('hidden too');\n"
        "  console.warn('careful', { n: 1 }); console.error(new Error('bad'));\n"
        "  return 'ok';\n};"
    )
    config = {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}
    name = _deploy(lam, {"index.js": code}, LoggingConfig=config)
    resp, _ = _invoke(lam, name, LogType="Tail")
    rid = resp["ResponseMetadata"]["RequestId"]
    records = [json.loads(line) for line in _tail(resp).splitlines() if '"requestId"' in line]
    app = [r for r in records if r.get("level") in ("DEBUG", "INFO", "WARN", "ERROR")]
    assert [(r["level"], r["message"]) for r in app[:1]] == [("WARN", "careful { n: 1 }")]
    assert app[0]["requestId"] == rid
    assert app[1]["level"] == "ERROR"
    assert (app[1]["message"]["errorType"], app[1]["message"]["errorMessage"]) == ("Error", "bad")
    assert len(app) == 2


CALLBACKS = """
let calls = 0;
exports.handler = function (event, context, callback) {
  calls += 1;
  context.callbackWaitsForEmptyEventLoop = event.wait;
  const result = { calls, timer: false };
  setTimeout(() => { result.timer = true; }, 100);
  if (event.fail) {
    callback(new Error('callback failed'));
  } else if (event.string) {
    callback('just a string');
  } else if (event.silent) {
    return;  // never answers: the empty event loop does
  } else {
    callback(null, result);
  }
};
"""


def test_callback_handlers_honour_callback_waits_for_empty_event_loop(lam: Any) -> None:
    name = _deploy(lam, {"index.js": CALLBACKS})
    _, waited = _invoke(lam, name, {"wait": True})
    assert waited == {"calls": 1, "timer": True}  # answered once the timer had run
    _, early = _invoke(lam, name, {"wait": False})
    assert early == {"calls": 2, "timer": False}  # answered at once, the timer still pending
    _, silent = _invoke(lam, name, {"wait": True, "silent": True})
    assert silent is None
    resp, failed = _invoke(lam, name, {"wait": True, "fail": True}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert failed["errorType"] == "Error"
    assert failed["errorMessage"] == "callback failed"
    assert failed["trace"][0] == "Error: callback failed"
    assert "\tERROR\tInvoke Error \t{" in _tail(resp)
    _, string = _invoke(lam, name, {"wait": True, "string": True})
    assert string == {"errorType": "string", "errorMessage": "just a string", "trace": []}
    _, after = _invoke(lam, name, {"wait": True})
    assert after["calls"] == 6  # the same environment all along: callback errors do not reset it


LEGACY = """
exports.handler = (event, context) => {
  if (event.how === 'succeed') context.succeed({ via: 'succeed' });
  if (event.how === 'fail') context.fail(new Error('via fail'));
  if (event.how === 'failEmpty') context.fail();
  if (event.how === 'done') { context.done(null, 'via done'); context.done(null, 'ignored'); }
};
"""


def test_context_succeed_fail_and_done(lam: Any) -> None:
    name = _deploy(lam, {"index.js": LEGACY})
    assert _invoke(lam, name, {"how": "succeed"})[1] == {"via": "succeed"}
    _, failed = _invoke(lam, name, {"how": "fail"})
    assert (failed["errorType"], failed["errorMessage"]) == ("Error", "via fail")
    _, empty = _invoke(lam, name, {"how": "failEmpty"})
    assert empty == {"errorType": "string", "errorMessage": "handled", "trace": []}
    assert _invoke(lam, name, {"how": "done"})[1] == "via done"


def test_es_modules_mjs_type_module_and_nested_handler_paths(lam: Any) -> None:
    mjs = _deploy(
        lam, {"index.mjs": "export const handler = async (e) => ({ esm: import.meta.url });"}
    )
    assert _invoke(lam, mjs)[1]["esm"].endswith("/index.mjs")
    typed = _deploy(
        lam,
        {
            "package.json": json.dumps({"type": "module"}),
            "app.js": "import { sep } from 'node:path';\n"
            "export async function handler() { return sep; }",
        },
        handler="app.handler",
    )
    assert _invoke(lam, typed)[1] == "/"
    nested = _deploy(
        lam,
        {
            "src/lib/app.js": "exports.api = { v1: { handler: async (e) => e.n * 2 } };",
            "src/lib/app.mjs": "export const api = null;",  # .js wins for CommonJS folders
        },
        handler="src/lib/app.api.v1.handler",
    )
    assert _invoke(lam, nested, {"n": 21})[1] == 42
    cjs = _deploy(
        lam,
        {"worker.cjs": "module.exports.run = (e, c, cb) => cb(null, 'cjs');"},
        handler="worker.run",
    )
    assert _invoke(lam, cjs)[1] == "cjs"


ERRORS = """
class ValidationError extends Error {
  constructor(message) { super(message); this.name = 'ValidationError'; }
}
exports.handler = async (event) => {
  if (event.kind === 'named') throw new ValidationError('bad input');
  if (event.kind === 'string') throw 'thrown string';
  if (event.kind === 'rejection') {
    Promise.reject(new Error('nobody caught me'));
    return new Promise(() => {});
  }
  if (event.kind === 'circular') { const a = {}; a.a = a; return a; }
  return process.pid;
};
"""


def test_handler_errors_take_aws_shapes(lam: Any) -> None:
    name = _deploy(lam, {"index.js": ERRORS})
    resp, doc = _invoke(lam, name, {"kind": "named"}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert set(doc) == {"errorType", "errorMessage", "trace"}
    assert (doc["errorType"], doc["errorMessage"]) == ("ValidationError", "bad input")
    assert doc["trace"][0] == "ValidationError: bad input"
    assert any("index.js" in frame for frame in doc["trace"][1:])
    logged = _tail(resp)
    assert (
        '\tERROR\tInvoke Error \t{"errorType":"ValidationError","errorMessage":"bad input"'
        in logged
    )
    assert _invoke(lam, name, {"kind": "string"})[1] == {
        "errorType": "string", "errorMessage": "thrown string", "trace": [],
    }  # fmt: skip
    _, circular = _invoke(lam, name, {"kind": "circular"})
    assert (circular["errorType"], circular["errorMessage"]) == (
        "Error", "Unable to stringify response body"
    )  # fmt: skip
    _, pid = _invoke(lam, name)
    resp, rejected = _invoke(lam, name, {"kind": "rejection"})
    assert resp["FunctionError"] == "Unhandled"
    assert rejected["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert rejected["errorMessage"] == "Error: nobody caught me"
    _, fresh = _invoke(lam, name)  # the runtime exited after reporting it: a new one answers
    assert isinstance(fresh, int)
    assert pid is not None


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"index.js": "exports.x = 1;"}, "missing.handler", "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'\nRequire stack:\n- /var/runtime/index.mjs",
        ),
        (
            {"index.js": "require('no-such-package');"}, "index.handler",
            "Runtime.ImportModuleError", "Error: Cannot find module 'no-such-package'",
        ),
        (
            {"index.js": "exports.other = () => 1;"}, "index.handler", "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.js": "exports.handler = 42;"}, "index.handler", "Runtime.HandlerNotFound",
            "index.handler is not a function",
        ),
        (
            {"index.js": "exports.handler = async () => {;"}, "index.handler",
            "Runtime.UserCodeSyntaxError", "SyntaxError: ",
        ),
        (
            {"index.mjs": "export const handler = async () => { return 1 +; };"}, "index.handler",
            "Runtime.UserCodeSyntaxError", "SyntaxError: ",
        ),
        ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            {"index.js": ""}, "../index.handler", "Runtime.MalformedHandlerName",
            "'../index.handler' is not a valid handler name. Use absolute paths when "
            "specifying root directories in handler names.",
        ),
        (
            {"index.js": "throw new TypeError('init went wrong');"}, "index.handler",
            "TypeError", "init went wrong",
        ),
    ],
    ids=["missing-module", "missing-dependency", "not-exported", "not-a-function",
         "syntax-cjs", "syntax-esm", "malformed", "parent-path", "throws-at-init"],
)  # fmt: skip
def test_init_errors_take_aws_shapes(
    lam: Any, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    name = _deploy(lam, files, handler=handler)
    resp, doc = _invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == error_type
    if message.endswith(": ") or error_type == "Runtime.ImportModuleError":
        assert doc["errorMessage"].startswith(message)
    else:
        assert doc["errorMessage"] == message
    assert doc["trace"][0].startswith(f"{error_type}: ")


def test_timeout_ends_the_invocation(lam: Any) -> None:
    forever = "exports.handler = () => new Promise(() => setInterval(() => {}, 1000));"
    name = _deploy(lam, {"index.js": forever}, Timeout=1)
    resp, doc = _invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Sandbox.Timedout"
    assert doc["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_promise_that_never_settles_is_a_nodejs_exit(lam: Any) -> None:
    name = _deploy(
        lam, {"index.js": "exports.handler = async () => { await new Promise(() => {}); };"}
    )
    _, doc = _invoke(lam, name)
    assert doc["errorType"] == "Runtime.NodeJsExit"


LAYER_CJS = "module.exports = (who) => `hello ${who} from a layer`;"
LAYER_ESM = "export const greet = (who) => `esm hello ${who}`;"


def test_layers_node_modules_reach_commonjs_and_es_modules(lam: Any) -> None:
    layer = lam.publish_layer_version(
        LayerName=_name("nodelib"),
        Content={
            "ZipFile": make_zip(
                {
                    "nodejs/node_modules/greet/index.js": LAYER_CJS,
                    "nodejs/node_modules/esm-greet/package.json": json.dumps(
                        {"name": "esm-greet", "type": "module", "exports": "./index.js"}
                    ),
                    "nodejs/node_modules/esm-greet/index.js": LAYER_ESM,
                    f"nodejs/node{MAJOR}/node_modules/versioned/index.js": "module.exports = 7;",
                }
            )
        },
        CompatibleRuntimes=[RUNTIME],
    )["LayerVersionArn"]
    cjs = _deploy(
        lam,
        {"index.js": "const g = require('greet'); const v = require('versioned');\n"
                     "exports.handler = async (e) => [g(e.who), v];"},
        Layers=[layer],
    )  # fmt: skip
    assert _invoke(lam, cjs, {"who": "cjs"})[1] == ["hello cjs from a layer", 7]
    esm = _deploy(
        lam,
        {"index.mjs": "import { greet } from 'esm-greet';\nimport g from 'greet';\n"
                      "export const handler = async (e) => [greet(e.who), g(e.who)];"},
        Layers=[layer],
    )  # fmt: skip
    assert _invoke(lam, esm, {"who": "esm"})[1] == ["esm hello esm", "hello esm from a layer"]


PROBE = """
const fs = require('fs');
exports.handler = async (event) => {
  if (event.mb) {
    const blocks = [];
    for (let i = 0; i < event.mb; i++) blocks.push(Buffer.alloc(1 << 20, 1));
    return blocks.length;
  }
  let write = 'ok';
  try { fs.writeFileSync('/var/task/intruder', 'x'); } catch (e) { write = e.code; }
  fs.writeFileSync('/tmp/mine', 'x');
  return { root: fs.existsSync('/root'), home: fs.existsSync('/home'), uid: process.getuid(),
           write, tmp: fs.readFileSync('/tmp/mine', 'utf8'),
           pids: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length };
};
"""


@pytest.mark.skipif(not _sandboxed(), reason="no bubblewrap or cgroups on this host")
def test_node_functions_run_in_the_sandbox_with_its_memory_limit(lam: Any) -> None:
    name = _deploy(lam, {"index.js": PROBE}, MemorySize=128, Timeout=30)
    _, doc = _invoke(lam, name)
    assert doc["root"] is False
    assert doc["home"] is False
    assert doc["uid"] == 993  # Lambda's sbx_user1051
    assert doc["write"] in ("EROFS", "EACCES")
    assert doc["tmp"] == "x"
    assert doc["pids"] < 50
    resp, oom = _invoke(lam, name, {"mb": 400})
    assert resp["FunctionError"] == "Unhandled"
    assert oom["errorType"] == "Runtime.OutOfMemory"
    assert _invoke(lam, name, {"mb": 1})[1] == 1


MISSING = next((m for m in ("22", "20", "18") if m not in NODES), None)


@pytest.mark.skipif(MISSING is None, reason="this host has a node for every nodejs runtime")
def test_a_runtime_without_its_node_is_refused_at_create(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        _deploy(lam, {"index.js": "exports.handler = async () => 1;"}, runtime=f"nodejs{MISSING}.x")
    message = info.value.response["Error"]["Message"]
    assert f"Runtime nodejs{MISSING}.x is not available on this Ember server" in message
    assert f"node {MAJOR} (" in message
    assert f"Install Node.js {MISSING}" in message


STREAMING = r"""
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.http || event.requestContext) {  // asked, or called through a function URL
    responseStream = awslambda.HttpResponseStream.from(
      responseStream, { statusCode: 201, headers: { 'x-from': 'node' } });
  } else {
    responseStream.setContentType('text/plain');
  }
  responseStream.write('first ');
  await new Promise((resolve) => setTimeout(resolve, 20));
  responseStream.write(Buffer.from('second'));
  if (event.fail) throw new Error('broke mid-stream');
  responseStream.end();
});
exports.sync = awslambda.streamifyResponse((event, stream) => { stream.write('x'); });
"""


def _streamed(lam: Any, name: str, payload: Any) -> tuple[bytes, dict[str, Any]]:
    response = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(payload).encode()
    )
    *chunks, last = list(response["EventStream"])
    return b"".join(c["PayloadChunk"]["Payload"] for c in chunks), last["InvokeComplete"]


def test_streamify_response_streams_through_the_runtime_api(lam: Any) -> None:
    name = _deploy(lam, {"index.js": STREAMING})
    body, complete = _streamed(lam, name, {})
    assert body == b"first second"
    assert "ErrorCode" not in complete
    body, complete = _streamed(lam, name, {"fail": True})
    assert body == b"first second"  # what was sent stays sent; the error ends the stream
    assert (complete["ErrorCode"], complete["ErrorDetails"]) == ("Error", "broke mid-stream")
    body, _ = _streamed(lam, name, {"http": True})
    prelude, _, rest = body.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-from": "node"}}
    assert rest == b"first second"
    # Invoke (not streaming) gets the whole stream as one payload.
    assert lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read() == b"first second"
    sync = _deploy(lam, {"index.js": STREAMING}, handler="index.sync")
    _, complete = _streamed(lam, sync, {})
    assert complete["ErrorDetails"] == "Streaming does not support non-async handlers."


def test_a_streamed_http_answer_through_a_function_url(server: Server, lam: Any) -> None:
    name = _deploy(lam, {"index.js": STREAMING})
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    lam.add_permission(
        FunctionName=name, StatementId="public", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    host = url.split("/")[2]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/", headers={"Host": host})
        answer = connection.getresponse()
        assert answer.status == 201
        assert answer.getheader("x-from") == "node"
        assert answer.read() == b"first second"
    finally:
        connection.close()


def test_node_flag_maps_a_runtime_to_a_given_binary(tmp_path: Path) -> None:
    other = "18" if MAJOR != "18" else "22"
    with run_server(tmp_path / "data", "--node", f"{other}={NODES[MAJOR]}") as srv:
        lam = srv.client()
        code = "exports.handler = async () => [process.env.AWS_EXECUTION_ENV, process.version];"
        name = _deploy(lam, {"index.js": code}, runtime=f"nodejs{other}.x")
        env, version = _invoke(lam, name)[1]
    assert env == f"AWS_Lambda_nodejs{other}.x"
    assert version.startswith(f"v{MAJOR}.")  # the binary given, whatever its version
