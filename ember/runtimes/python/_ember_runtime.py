"""Init and the invoke loop of Ember's Python runtime, reporting errors as awslambdaric.

Part of Ember's Python runtime (see bootstrap.py): stdlib only, 3.8 syntax. Reads top
to bottom as the lifecycle: `main()` sets up sys.path and output, imports `$_HANDLER`
(or reports the init error and exits), then loops over `GET /invocation/next`.
"""

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    # mypy knows this folder as the package ember.runtimes.python; at run time the
    # folder itself is on sys.path while bootstrap.py imports these modules.
    from ember.runtimes.python._ember_client import RuntimeClient
    from ember.runtimes.python._ember_context import LambdaContext
    from ember.runtimes.python._ember_logging import Invocation, log_error, setup_output
else:
    from _ember_client import RuntimeClient
    from _ember_context import LambdaContext
    from _ember_logging import Invocation, log_error, setup_output

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any, NoReturn

    Frame = tuple[str, int | None, str, str | None]
    Handler = Callable[[Any, LambdaContext], Any]

_API = b"/2018-06-01/runtime"
_NEXT = _API + b"/invocation/next"
_JSON = b"application/json"
_XRAY_HEADER_LIMIT = 1024 * 1024  # awslambdaric leaves out a larger X-Ray cause
_HERE = os.path.dirname(__file__)

# Set by Ember's server: the folder of the boto3/botocore copy every environment shares.
SDK_VARIABLE = "_EMBER_SDK_DIR"

MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
MARSHAL_ERROR = "Runtime.MarshalError"
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function "
    "code. However, in rare cases, a Lambda runtime update can cause unexpected function "
    "behavior. For functions using managed runtimes, runtime updates can be triggered by a "
    "function change, or can be applied automatically. To determine if the runtime has been "
    "updated, check the runtime version in the INIT_START log entry. If this error "
    "correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)


def main() -> None:
    _set_sys_path(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task")
    setup_output()
    client = RuntimeClient(os.environ.get("AWS_LAMBDA_RUNTIME_API") or "127.0.0.1:9001")
    snap_start = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"
    try:
        handler = _get_handler(os.environ.get("_HANDLER", ""))
        if snap_start:
            _run_hooks("get_before_snapshot", BEFORE_SNAPSHOT_ERROR)
    except Exception as exc:
        _fail_init(client, exc)
    if snap_start:
        _resume(client)
    environ = os.environ
    while True:
        status, headers, body = client.request(b"GET", _NEXT)
        if status != 200:
            raise RuntimeError(f"Failed to get next invocation: HTTP {status}: {body!r}")
        request_id = _text(headers.get(b"lambda-runtime-aws-request-id")) or ""
        Invocation.request_id = request_id
        Invocation.tenant_id = _text(headers.get(b"lambda-runtime-aws-tenant-id"))
        # X-Ray SDKs read the current trace from the environment, as on Lambda.
        trace_id = _text(headers.get(b"lambda-runtime-trace-id"))
        if trace_id is not None:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]
        _invoke(client, handler, request_id, headers, body)


# --- init ------------------------------------------------------------------------------


def _set_sys_path(task_root: str) -> None:
    """Lambda's search path: the task root first, then the layers' folders, then the
    runtime's boto3 and botocore (so a copy the function or a layer brings wins)."""
    pythonpath_set = "PYTHONPATH" in os.environ
    # Where Ember's server put the shared SDK; not the function's business, so not kept.
    sdk = os.environ.pop(SDK_VARIABLE, "")
    # `snapshot_restore_py` as Lambda's python3.12+ runtimes provide it: after the
    # function's own folders and the stdlib, so that a copy the function brings wins. The
    # folder holds only that module, so where boto3 resolves from does not change.
    shim = os.path.join(_HERE, "snapstart")
    site_dirs = [task_root]
    if not pythonpath_set:
        # Lambda leaves the layer folders out when the function sets its own PYTHONPATH.
        layer_site = "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2]
        sys.path[0:0] = [layer_site, "/opt/python", *([sdk] if sdk else [])]
        site_dirs += [layer_site, "/opt/python"]
        sys.path.append(shim)
    else:
        # The SDK stays last: after the function's own PYTHONPATH and the stdlib.
        sys.path += [shim, sdk] if sdk else [shim]
    sys.path.insert(0, task_root)
    # Lambda makes these site directories, so their .pth files count; `site` is only
    # worth importing when there is one.
    for directory in site_dirs:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        if any(name.endswith(".pth") for name in names):
            import site

            site.addsitedir(directory)
    runtime_dir = os.environ.get("LAMBDA_RUNTIME_DIR")
    if not pythonpath_set and runtime_dir:
        # For child Pythons, as on Lambda (whose /var/runtime holds boto3 too).
        os.environ["PYTHONPATH"] = runtime_dir + (":" + sdk if sdk else "")


def _get_handler(handler: str) -> "Handler":
    """Import `$_HANDLER` ("module.func", "pkg.mod.func" or "dir/mod.func")."""
    import importlib

    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {e}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            BUILT_IN_MODULE_CONFLICT, f"Cannot use built-in module {modname} as a handler module"
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault(IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise _Fault(
            USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        function: Handler = getattr(module, fname)
    except AttributeError:
        raise _Fault(
            HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'"
        ) from None
    return function


def _fail_init(client: RuntimeClient, exc: Exception) -> "NoReturn":
    if isinstance(exc, _Fault):
        error = _make_error(exc.msg, exc.error_type, exc.trace)
    else:
        error = _error_from_exception(exc, None)[0]
    import logging

    logging.warning(UNHANDLED_WARNING)
    log_error(error, _encoder.encode)
    _post_error(client, _API + b"/init/error", error, None)
    sys.exit(1)


# --- SnapStart ---------------------------------------------------------------------------


def _run_hooks(registry: str, error_type: str) -> None:
    """The hooks registered through `snapshot_restore_py` (if the function imported it),
    as awslambdaric runs them: before-snapshot hooks last-registered first, after-restore
    hooks in the order registered. A hook's exception becomes `error_type`."""
    module = sys.modules.get("snapshot_restore_py")
    if module is None:
        return
    hooks = list(getattr(module, registry)())
    if registry == "get_before_snapshot":
        hooks.reverse()
    for func, args, kwargs in hooks:
        try:
            func(*args, **kwargs)
        except Exception as e:
            raise _Fault(error_type, f"{type(e).__name__}: {e}") from None


def _resume(client: RuntimeClient) -> None:
    """Wait in `restore/next` until Ember resumes this environment, then reseed `random`
    (a snapshot's generator state would repeat in every environment) and run the
    after-restore hooks; their failure goes to `restore/error` and the runtime exits."""
    status, _, body = client.request(b"GET", _API + b"/restore/next")
    if status != 200:
        raise RuntimeError(f"Failed to get restore: HTTP {status}: {body!r}")
    try:
        generator = sys.modules.get("random")
        if generator is not None:
            generator.seed()  # from os.urandom
        _run_hooks("get_after_restore", AFTER_RESTORE_ERROR)
    except _Fault as fault:
        error = _make_error(fault.msg, fault.error_type, fault.trace)
        log_error(error, _encoder.encode)
        _post_error(client, _API + b"/restore/error", error, None)
        sys.exit(1)


# --- one invocation ----------------------------------------------------------------------


class _Encoder(json.JSONEncoder):
    """awslambdaric's encoder: Decimals as numbers (NaN for any NaN), NaN allowed."""

    def default(self, o: "Any") -> "Any":
        # A Decimal exists only if user code imported decimal: don't pay for it here.
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(o, decimal.Decimal):
            return float("nan") if o.is_nan() else float(o)
        return super().default(o)


# Lambda's python3.12 and 3.13 runtimes stopped escaping non-ASCII; older ones escape.
_encoder = _Encoder(
    ensure_ascii=os.environ.get("AWS_EXECUTION_ENV")
    not in ("AWS_Lambda_python3.12", "AWS_Lambda_python3.13")
)


class _Fault(Exception):
    """A failure the runtime names itself (`Runtime.*`): reported without user frames."""

    def __init__(self, error_type: str, msg: str, trace: "list[str] | None" = None) -> None:
        super().__init__(msg)
        self.error_type = error_type
        self.msg = msg
        self.trace = trace


def _invoke(
    client: RuntimeClient,
    handler: "Handler",
    request_id: str,
    headers: "dict[bytes, bytes]",
    body: bytes,
) -> None:
    """Run the handler on one event and post its result or error."""
    path = _API + b"/invocation/" + request_id.encode() + b"/"
    try:
        context = _make_context(request_id, headers)
        # Lambda always sends application/json; any other type reaches the handler raw.
        content_type = headers.get(b"content-type")
        if content_type is None or content_type == _JSON:
            try:
                event = json.loads(body)
            except Exception as e:
                raise _Fault(UNMARSHAL_ERROR, f"Unable to unmarshal input: {e}") from None
        else:
            event = body
        response = handler(event, context)
        if isinstance(response, bytes):
            result, result_type = response, b"application/unknown"
        else:
            try:
                result = _encoder.encode(response).encode()
            except Exception as e:
                raise _Fault(MARSHAL_ERROR, f"Unable to marshal response: {e}") from None
            result_type = _JSON
    except _Fault as fault:
        error = _make_error(fault.msg, fault.error_type, fault.trace, request_id)
        xray = _xray_cause("LambdaValidationError", fault.msg, [])
    except Exception as exc:
        error, xray = _error_from_exception(exc, request_id)
    else:
        # Back in next in the same write (pipelined): main()'s GET reads its answer.
        _post(client, path + b"response", result, b"Content-Type: %s\r\n" % result_type, _NEXT)
        return
    log_error(error, _encoder.encode)
    _post_error(client, path + b"error", error, xray)


def _make_context(request_id: str, headers: "dict[bytes, bytes]") -> LambdaContext:
    client_context = _text(headers.get(b"lambda-runtime-client-context"))
    cognito_identity = _text(headers.get(b"lambda-runtime-cognito-identity"))
    try:
        deadline_ms = int(headers.get(b"lambda-runtime-deadline-ms", b"0"))
    except ValueError:
        deadline_ms = 0
    return LambdaContext(
        request_id,
        _parse_json_header(client_context, "Client Context") if client_context else None,
        _parse_json_header(cognito_identity, "Cognito Identity") if cognito_identity else None,
        deadline_ms,
        _text(headers.get(b"lambda-runtime-invoked-function-arn")) or "",
        _text(headers.get(b"lambda-runtime-aws-tenant-id")),
    )


def _text(value: "bytes | None") -> "str | None":
    """A header value as awslambdaric's native client gives it: None when empty."""
    if not value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _parse_json_header(value: str, name: str) -> "Any":
    try:
        return json.loads(value)
    except Exception as e:
        raise _Fault(CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {name} JSON: {e}") from None


# --- errors --------------------------------------------------------------------------------


def _make_error(
    message: str, error_type: str, trace: "list[str] | None", request_id: "str | None" = None
) -> "dict[str, Any]":
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": trace or [],
    }


def _error_from_exception(
    exc: BaseException, request_id: "str | None"
) -> "tuple[dict[str, Any], dict[str, Any]]":
    """The error payload and X-Ray cause for an exception out of user code."""
    import traceback

    frames = _user_frames(exc.__traceback__)
    # Plain tuples, not FrameSummary objects: keeps 3.11+'s ^^^ lines out, as on Lambda.
    trace = traceback.format_list(frames)  # type: ignore[arg-type]  # lineno None is fine
    name = type(exc).__name__
    return _make_error(str(exc), name, trace, request_id), _xray_cause(name, str(exc), frames)


def _user_frames(tb: "TracebackType | None") -> "list[Frame]":
    """The traceback less the runtime's own leading frames, as awslambdaric trims it."""
    import traceback

    frames: list[Frame] = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if os.path.dirname(frame[0]) != _HERE:
            return frames[i:]
    return frames


def _xray_cause(error_type: str, message: str, frames: "list[Frame]") -> "dict[str, Any]":
    return {
        "working_directory": os.getcwd(),
        "exceptions": [
            {
                "message": message,
                "type": error_type,
                "stack": [{"label": f[2], "path": f[0], "line": f[1]} for f in frames],
            }
        ],
        "paths": list({f[0]: None for f in frames}),
    }


def _post(
    client: RuntimeClient, path: bytes, body: bytes, headers: bytes, then: "bytes | None" = None
) -> None:
    if then is None:
        status, _, answer = client.request(b"POST", path, body, headers)
    else:
        status, _, answer = client.request_then(b"POST", path, body, headers, then)
    if not 200 <= status < 300:
        # As awslambdaric: the runtime exits and the platform reports it.
        raise RuntimeError(
            f"Request to Lambda Runtime '{path.decode()}' endpoint failed. "
            f"Reason: '{status}'. Response body: '{answer.decode(errors='replace')}'"
        )


def _post_error(
    client: RuntimeClient, path: bytes, error: "dict[str, Any]", xray: "dict[str, Any] | None"
) -> None:
    headers = b"Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n" % (
        _header_value(error["errorType"])
    )
    if xray is not None:
        cause = json.dumps(xray).encode()
        if len(cause) < _XRAY_HEADER_LIMIT:
            headers += b"Lambda-Runtime-Function-XRay-Error-Cause: %s\r\n" % cause
    _post(client, path, _encoder.encode(error).encode("utf-8", "replace"), headers)


def _header_value(text: str) -> bytes:
    return text.encode("utf-8", "replace").replace(b"\r", b" ").replace(b"\n", b" ")
