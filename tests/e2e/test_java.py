"""Java functions (java11-java25) on Ember's own Java runtime, driven by boto3 as on Lambda:
handlers compiled with javac here, each handler form, POJOs, streams, the context, LambdaLogger
lines, handler and init errors in the shapes Lambda's Java runtime uses, jars under lib/
(with and without their own copy of aws-lambda-java-core), layers' java/lib, the JVM flags."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.runtimes import jvm
from tests.e2e.harness import Server, create_function, make_zip, run_server, wait_until

JAVAC = shutil.which("javac")
JDKS = jvm.discover_jdks() if JAVAC else {}
RUNTIME = next((f"java{v}" for v in ("17", "21", "25", "11") if v in JDKS), "java17")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(JAVAC is None or not JDKS, reason="no JDK (javac) on this host"),
]

SOURCES = {
    "example/ContextFields.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.util.*;
public class ContextFields {
    public Map<String, Object> handle(Map<String, Object> event, Context context) {
        context.getLogger().log("logger line for " + event.get("who") + "\\n");
        LambdaRuntime.getLogger().log("runtime logger line\\n");
        System.out.println("stdout line");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", event);
        out.put("awsRequestId", context.getAwsRequestId());
        out.put("functionName", context.getFunctionName());
        out.put("functionVersion", context.getFunctionVersion());
        out.put("invokedFunctionArn", context.getInvokedFunctionArn());
        out.put("logGroupName", context.getLogGroupName());
        out.put("logStreamName", context.getLogStreamName());
        out.put("memoryLimitInMB", context.getMemoryLimitInMB());
        out.put("remaining", context.getRemainingTimeInMillis());
        ClientContext cc = context.getClientContext();
        out.put("custom", cc == null ? null : cc.getCustom());
        Client client = cc == null ? null : cc.getClient();
        out.put("appTitle", client == null ? null : client.getAppTitle());
        CognitoIdentity id = context.getIdentity();
        out.put("identity", id == null ? null : id.getIdentityId());
        out.put("maxHeap", Runtime.getRuntime().maxMemory());
        out.put("toolOption", System.getProperty("ember.tool"));
        return out;
    }
}
""",
    "example/Person.java": """
package example;
import java.util.List;
public class Person {
    private String name;
    private int age;
    private List<String> tags;
    private Address address;
    public String getName() { return name; }
    public void setName(String name) { this.name = name; }
    public int getAge() { return age; }
    public void setAge(int age) { this.age = age; }
    public List<String> getTags() { return tags; }
    public void setTags(List<String> tags) { this.tags = tags; }
    public Address getAddress() { return address; }
    public void setAddress(Address address) { this.address = address; }
}
""",
    "example/Address.java": """
package example;
public class Address {
    public String city;
    public Integer zip;
}
""",
    "example/Greeting.java": """
package example;
public class Greeting {
    private final String message;
    private final int nextAge;
    private final String nothing = null;
    public Greeting(String message, int nextAge) { this.message = message; this.nextAge = nextAge; }
    public String getMessage() { return message; }
    public int getNextAge() { return nextAge; }
    public String getNothing() { return nothing; }
    public boolean isAdult() { return nextAge > 18; }
}
""",
    "example/Greeter.java": """
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
public class Greeter implements RequestHandler<Person, Greeting> {
    public Greeting handleRequest(Person p, Context context) {
        Address a = p.getAddress();
        String where = a == null ? "nowhere" : a.city + " " + a.zip;
        String message = "Hello " + p.getName() + " from " + where + " " + p.getTags();
        return new Greeting(message, p.getAge() + 1);
    }
}
""",
    "example/Base.java": """
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
public abstract class Base<T> implements RequestHandler<T, String> {
    public String handleRequest(T input, Context context) { return describe(input); }
    abstract String describe(T input);
}
""",
    "example/Concrete.java": """
package example;
public class Concrete extends Base<Person> {
    String describe(Person p) { return p.getName() + " is " + p.getAge(); }
}
""",
    "example/Upper.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
public class Upper implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context context)
            throws IOException {
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        out.write(text.toUpperCase().getBytes(StandardCharsets.UTF_8));
    }
}
""",
    "example/Methods.java": """
package example;
import com.amazonaws.services.lambda.runtime.Context;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
public class Methods {
    public static Integer twice(Integer n) { return n * 2; }
    public String shout(String s) { return s.toUpperCase() + "!"; }
    public void nothing(Map<String, Object> event) { }
    public List<Integer> lengths(List<String> words) {
        List<Integer> out = new ArrayList<>();
        for (String w : words) out.add(w.length());
        return out;
    }
    public void stream(InputStream in, OutputStream out, Context context) throws IOException {
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        String answer = "[" + context.getFunctionName().length() + "]" + text;
        out.write(answer.getBytes(StandardCharsets.UTF_8));
    }
    public String sleep(Map<String, Object> event) throws InterruptedException {
        Thread.sleep(60000);
        return "late";
    }
    public String fail(Map<String, Object> event) {
        throw new IllegalStateException("bad thing " + event.get("n"));
    }
}
""",
    "example/BadInit.java": """
package example;
public class BadInit {
    public BadInit() { throw new IllegalStateException("no configuration"); }
    public String handle(String s) { return s; }
}
""",
    "example/UsesLayer.java": """
package example;
public class UsesLayer {
    public String handle(String who) { return greet.Words.hello(who); }
}
""",
    "example/Snap.java": """
package example;
import com.amazonaws.services.lambda.crac.Context;
import com.amazonaws.services.lambda.crac.Core;
import com.amazonaws.services.lambda.crac.Resource;
import java.util.*;
public class Snap implements Resource {
    static final List<String> STEPS = Collections.synchronizedList(new ArrayList<>());
    static final Snap HOOKS = new Snap();
    static { Core.getGlobalContext().register(HOOKS); }
    public void beforeCheckpoint(Context<? extends Resource> context) { STEPS.add("before"); }
    public void afterRestore(Context<? extends Resource> context) { STEPS.add("after"); }
    public Map<String, Object> handle(Map<String, Object> event) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("steps", new ArrayList<>(STEPS));
        out.put("init", System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE"));
        return out;
    }
}
""",
    "example/Levels.java": """
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
public class Levels {
    public String handle(String s, Context context) {
        LambdaLogger logger = context.getLogger();
        logger.log("info line", LogLevel.INFO);
        logger.log("warn line", LogLevel.WARN);
        logger.log("plain line");
        return s;
    }
}
""",
    "greet/Words.java": """
package greet;
public class Words {
    public static String hello(String who) { return "layer says hello to " + who; }
}
""",
    "lib/LibHandler.java": """
package lib;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;
public class LibHandler implements RequestHandler<Map<String, String>, String> {
    public String handleRequest(Map<String, String> event, Context context) {
        ClassLoader loader = context.getClass().getClassLoader();
        return "from a jar: " + event.get("x") + " via " + loader.getClass().getName();
    }
}
""",
}

RECORDS = """
package example;
import java.util.List;
public class Records {
    public record Point(int x, int y, String label) {}
    public record Line(Point from, Point to, List<String> tags) {}
    public Line swap(Line line) { return new Line(line.to(), line.from(), line.tags()); }
}
"""


def _jar(classes: Path, packages: tuple[str, ...]) -> bytes:
    """A jar (a zip) of the compiled classes of `packages` (folder prefixes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for path in sorted(classes.rglob("*.class")):
            name = str(path.relative_to(classes))
            if name.startswith(packages):
                out.write(path, name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test handlers compiled against Ember's interfaces jar (as against
    aws-lambda-java-core), and Ember's runtime itself if `make` has not built it."""
    if not jvm.runtime_built(jvm.DEFAULT_JAVA_DIR):
        assert JAVAC is not None
        jvm.build_runtime(jvm.DEFAULT_JAVA_DIR, JAVAC)
    root = tmp_path_factory.mktemp("java")
    src = root / "src"
    for name, text in SOURCES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    classes = root / "classes"
    subprocess.run(
        [JAVAC or "javac", "--release", "11", "-nowarn", "-d", str(classes),
         "-cp", str(jvm.runtime_jar(jvm.DEFAULT_JAVA_DIR)),
         *sorted(str(p) for p in src.rglob("*.java"))],
        check=True,
        timeout=300,
    )  # fmt: skip
    if int(jvm.major(RUNTIME)) >= 17:  # records: Java 16+
        record = src / "example" / "Records.java"
        record.write_text(RECORDS)
        subprocess.run(
            [JAVAC or "javac", "--release", "17", "-nowarn", "-d", str(classes), str(record)],
            check=True,
            timeout=300,
        )
    # aws-lambda-java-core's classes, as a function's fat jar bundles them.
    with zipfile.ZipFile(jvm.runtime_jar(jvm.DEFAULT_JAVA_DIR)) as runtime:
        runtime.extractall(classes, [n for n in runtime.namelist() if n.startswith("com/")])
    return classes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("java") / "data") as srv:
        yield srv


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def example(built: Path) -> dict[str, bytes]:
    """The function's zip content as Lambda loads it: classes at the root."""
    files = {}
    for path in sorted(built.rglob("*.class")):
        name = str(path.relative_to(built))
        if name.startswith("example/"):
            files[name] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def functions(lam: Any, example: dict[str, bytes]) -> dict[str, str]:
    """One function per handler of the example classes (created once, invoked by the tests)."""
    handlers = {
        "context": "example.ContextFields::handle",
        "greeter": "example.Greeter",
        "upper": "example.Upper",
        "generic": "example.Concrete",
        "twice": "example.Methods::twice",
        "shout": "example.Methods::shout",
        "nothing": "example.Methods::nothing",
        "lengths": "example.Methods::lengths",
        "stream": "example.Methods::stream",
        "fail": "example.Methods::fail",
    }
    names = {}
    for key, handler in handlers.items():
        name = f"java-{key}-{uuid.uuid4().hex[:6]}"
        create_function(lam, name, example, handler=handler, runtime=RUNTIME, wait=False)
        names[key] = name
    for name in names.values():
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
    return names


def _invoke(lam: Any, name: str, payload: Any, **kw: Any) -> tuple[dict[str, Any], Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    resp = lam.invoke(FunctionName=name, Payload=raw, **kw)
    body = resp["Payload"].read()
    try:
        return resp, json.loads(body or b"null")
    except ValueError:
        return resp, body


def _tail(resp: dict[str, Any]) -> str:
    return base64.b64decode(resp["LogResult"]).decode()


def test_method_handler_sees_the_context_and_logs(lam: Any, functions: dict[str, str]) -> None:
    name = functions["context"]
    client_context = {"client": {"app_title": "Ember app"}, "custom": {"k": "v"}, "env": {}}
    resp, out = _invoke(
        lam,
        name,
        {"who": "ada", "n": [1, 2.5, True, None]},
        LogType="Tail",
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
    )
    assert "FunctionError" not in resp
    assert out["event"] == {"who": "ada", "n": [1, 2.5, True, None]}
    assert out["awsRequestId"] == resp["ResponseMetadata"]["RequestId"]
    assert out["functionName"] == name
    assert out["functionVersion"] == "$LATEST"
    assert out["invokedFunctionArn"].endswith(f":function:{name}")
    assert out["logGroupName"] == f"/aws/lambda/{name}"
    assert out["logStreamName"]
    assert out["memoryLimitInMB"] == 128
    assert 0 < out["remaining"] <= 3000
    assert out["custom"] == {"k": "v"}
    assert out["appTitle"] == "Ember app"
    assert out["identity"] is None
    # Lambda's heap: 85 % of MemorySize (the JVM reports a little less than -Xmx).
    assert 0.7 * 128 * 2**20 < out["maxHeap"] <= 0.85 * 128 * 2**20
    tail = _tail(resp)
    assert "logger line for ada\n" in tail
    assert "runtime logger line\n" in tail
    assert "stdout line\n" in tail


def test_request_handler_maps_pojos(lam: Any, functions: dict[str, str]) -> None:
    event = {
        "name": "Ada",
        "age": 36,
        "tags": ["math", "engines"],
        "address": {"city": "London", "zip": 12345},
        "unknown": {"ignored": True},
    }
    resp, out = _invoke(lam, functions["greeter"], event)
    assert "FunctionError" not in resp
    # Null properties are left out; `isAdult` is a boolean property, as Jackson names it.
    assert out == {
        "message": "Hello Ada from London 12345 [math, engines]",
        "nextAge": 37,
        "adult": True,
    }


def test_request_handler_type_from_a_generic_superclass(
    lam: Any, functions: dict[str, str]
) -> None:
    resp, out = _invoke(lam, functions["generic"], {"name": "Lin", "age": "40"})
    assert "FunctionError" not in resp, out
    assert out == "Lin is 40"


def test_request_stream_handler_gets_the_raw_event(lam: Any, functions: dict[str, str]) -> None:
    resp, out = _invoke(lam, functions["upper"], b'{"word": "quiet"}')
    assert "FunctionError" not in resp
    assert out == {"WORD": "QUIET"}


def test_method_forms_and_scalar_types(lam: Any, functions: dict[str, str]) -> None:
    assert _invoke(lam, functions["twice"], 21)[1] == 42
    assert _invoke(lam, functions["shout"], "hey")[1] == "HEY!"
    assert _invoke(lam, functions["nothing"], {"a": 1})[1] is None
    assert _invoke(lam, functions["lengths"], ["a", "bb", "ccc"])[1] == [1, 2, 3]
    name = functions["stream"]
    _, out = _invoke(lam, name, "raw")
    assert out == f'[{len(name)}]"raw"'.encode()


def test_handler_exception_is_reported_as_lambda_does(lam: Any, functions: dict[str, str]) -> None:
    resp, out = _invoke(lam, functions["fail"], {"n": 7}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorMessage"] == "bad thing 7"
    assert out["errorType"] == "java.lang.IllegalStateException"
    assert out["stackTrace"][0].startswith("example.Methods.fail(Methods.java:")
    assert not any("ember.lambda" in frame for frame in out["stackTrace"])
    assert "bad thing 7: java.lang.IllegalStateException" in _tail(resp)


def test_bad_input_for_the_declared_type(lam: Any, functions: dict[str, str]) -> None:
    resp, out = _invoke(lam, functions["twice"], {"not": "a number"})
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "java.lang.RuntimeException"
    assert out["errorMessage"] == "An error occurred during JSON parsing"


def test_init_errors_use_lambdas_words(lam: Any, example: dict[str, bytes]) -> None:
    cases = {
        "example.Missing::handle": {
            "errorMessage": "Class not found: example.Missing",
            "errorType": "java.lang.ClassNotFoundException",
        },
        "example.Methods::absent": {
            "errorMessage": "No public method named absent with appropriate method "
            "signature found on class example.Methods",
        },
        "example.Methods": {
            "errorMessage": "Class does not implement an appropriate handler interface: "
            "example.Methods",
        },
        "example.BadInit::handle": {
            "errorMessage": "no configuration",
            "errorType": "java.lang.IllegalStateException",
        },
    }
    for handler, expected in cases.items():
        name = f"java-bad-{uuid.uuid4().hex[:6]}"
        create_function(lam, name, example, handler=handler, runtime=RUNTIME)
        resp, out = _invoke(lam, name, "x")
        assert resp["FunctionError"] == "Unhandled", handler
        assert out == expected, handler


def test_jar_under_lib_with_and_without_bundled_core(lam: Any, built: Path) -> None:
    plain = _jar(built, ("lib/",))
    bundled = _jar(built, ("lib/", "com/amazonaws/"))
    for jar in (plain, bundled):
        name = f"java-jar-{uuid.uuid4().hex[:6]}"
        create_function(
            lam, name, {"lib/handlers.jar": jar}, handler="lib.LibHandler", runtime=RUNTIME
        )
        resp, out = _invoke(lam, name, {"x": "y"})
        assert "FunctionError" not in resp, out
        # The Context is the runtime's, whichever copy of the interfaces the jar carries.
        assert out == "from a jar: y via jdk.internal.loader.ClassLoaders$AppClassLoader"


def test_layer_java_lib(lam: Any, built: Path, example: dict[str, bytes]) -> None:
    layer = lam.publish_layer_version(
        LayerName=f"greet-{uuid.uuid4().hex[:6]}",
        Content={"ZipFile": make_zip({"java/lib/greet.jar": _jar(built, ("greet/",))})},
        CompatibleRuntimes=[RUNTIME],
    )
    name = f"java-layer-{uuid.uuid4().hex[:6]}"
    create_function(
        lam,
        name,
        example,
        handler="example.UsesLayer::handle",
        runtime=RUNTIME,
        Layers=[layer["LayerVersionArn"]],
    )
    resp, out = _invoke(lam, name, "Grace")
    assert "FunctionError" not in resp, out
    assert out == "layer says hello to Grace"


def test_java_tool_options_and_memory_sized_heap(lam: Any, example: dict[str, bytes]) -> None:
    name = f"java-opts-{uuid.uuid4().hex[:6]}"
    create_function(
        lam,
        name,
        example,
        handler="example.ContextFields::handle",
        runtime=RUNTIME,
        MemorySize=512,
        Environment={"Variables": {"JAVA_TOOL_OPTIONS": "-Dember.tool=on -Xmx100m"}},
    )
    _, out = _invoke(lam, name, {})
    assert out["toolOption"] == "on"
    assert out["maxHeap"] <= 100 * 2**20  # the function's -Xmx wins over the 85 % default
    assert out["memoryLimitInMB"] == 512


def test_a_java_version_without_a_jdk_is_refused_clearly(lam: Any) -> None:
    missing = next((v for v in ("11", "21", "25", "17") if v not in JDKS), None)
    if missing is None:
        pytest.skip("every Java version has a JDK here")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        create_function(
            lam, "java-none", {"a.class": b""}, handler="a::b", runtime=f"java{missing}"
        )
    assert f"needs a Java {missing} JDK" in str(caught.value)


def test_snapstart_runs_the_crac_hooks_around_the_snapshot(
    lam: Any, example: dict[str, bytes]
) -> None:
    name = f"java-snap-{uuid.uuid4().hex[:6]}"
    create_function(
        lam,
        name,
        example,
        handler="example.Snap::handle",
        runtime=RUNTIME,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    version = lam.publish_version(FunctionName=name)["Version"]

    def settled() -> dict[str, Any] | None:
        config: dict[str, Any] = lam.get_function_configuration(
            FunctionName=name, Qualifier=version
        )
        return None if config["State"] == "Pending" else config

    config = wait_until(settled, limit=60, interval=0.1)
    assert config["State"] == "Active", config.get("StateReason")
    resp, out = _invoke(lam, name, {}, Qualifier=version)
    assert "FunctionError" not in resp, out
    assert out == {"steps": ["before", "after"], "init": "snap-start"}
    _, latest = _invoke(lam, name, {})
    assert latest == {"steps": [], "init": "on-demand"}


def test_logger_levels_in_text_and_json_formats(lam: Any, example: dict[str, bytes]) -> None:
    text = f"java-text-{uuid.uuid4().hex[:6]}"
    create_function(lam, text, example, handler="example.Levels::handle", runtime=RUNTIME)
    resp, _ = _invoke(lam, text, "x", LogType="Tail")
    tail = _tail(resp)
    assert "[INFO] info line" in tail
    assert "[WARN] warn line" in tail
    assert "plain line" in tail
    structured = f"java-json-{uuid.uuid4().hex[:6]}"
    create_function(
        lam,
        structured,
        example,
        handler="example.Levels::handle",
        runtime=RUNTIME,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )
    resp, _ = _invoke(lam, structured, "x", LogType="Tail")
    lines = [json.loads(line) for line in _tail(resp).splitlines() if line.startswith("{")]
    messages = {line.get("message"): line for line in lines}
    assert "info line" not in messages  # below WARN
    warn = messages["warn line"]
    assert warn["level"] == "WARN"
    assert warn["AWSRequestId"] == resp["ResponseMetadata"]["RequestId"]
    assert warn["timestamp"].endswith("Z")
    assert messages["plain line"]["level"] == "UNDEFINED"


def test_timeout_ends_the_invocation(lam: Any, example: dict[str, bytes]) -> None:
    name = f"java-slow-{uuid.uuid4().hex[:6]}"
    create_function(
        lam, name, example, handler="example.Methods::sleep", runtime=RUNTIME, Timeout=1
    )
    resp, out = _invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Sandbox.Timedout"
    assert out["errorMessage"].endswith("Task timed out after 1.00 seconds")


@pytest.mark.skipif(int(jvm.major(RUNTIME)) < 17, reason="records need Java 16+")
def test_records_in_and_out(lam: Any, example: dict[str, bytes]) -> None:
    name = f"java-record-{uuid.uuid4().hex[:6]}"
    create_function(lam, name, example, handler="example.Records::swap", runtime=RUNTIME)
    line = {"from": {"x": 1, "y": 2, "label": "a"}, "to": {"x": 3, "y": 4}, "tags": ["t"]}
    resp, out = _invoke(lam, name, line)
    assert "FunctionError" not in resp, out
    assert out == {"from": {"x": 3, "y": 4}, "to": {"x": 1, "y": 2, "label": "a"}, "tags": ["t"]}
