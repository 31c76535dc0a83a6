package ember.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Ember's Java runtime: load the handler named by _HANDLER from the task root (classes at its
 * root, jars in lib/) and the layers' java/lib, then serve invocations from the Runtime API
 * until the environment ends. Errors are reported in the shapes Lambda's Java runtime uses.
 */
public final class Main {
    private static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        // Flushed at each line (and before each Runtime API request): the server reads the
        // output pipes when a request arrives.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8"));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, "UTF-8"));
        Logger logger = new Logger(
                System.getenv("AWS_LAMBDA_LOG_FORMAT"), System.getenv("AWS_LAMBDA_LOG_LEVEL"));
        setLogger(logger);

        String address = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (address == null) {
            System.err.println("AWS_LAMBDA_RUNTIME_API is not set");
            System.exit(1);
        }
        RuntimeClient client = new RuntimeClient(address);
        String handler = args.length > 0 ? args[0] : System.getenv("_HANDLER");
        if (handler == null) {
            handler = "";
        }
        ClassLoader loader = customerLoader();
        Thread.currentThread().setContextClassLoader(loader);

        Handlers.Call call;
        try {
            call = Handlers.load(handler, loader);
        } catch (UserFault fault) {
            report(logger, fault);
            client.initError(fault.toJson(), fault.exception);
            System.exit(1);
            return;
        }
        if ("snap-start".equals(System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE"))) {
            snapshot(client, logger);
        }
        loop(client, call, logger);
    }

    /**
     * SnapStart: run the before-snapshot hooks, wait in restore/next while the platform keeps
     * the environment, then run the after-restore hooks; a hook's failure ends the runtime
     * (exit 64) after reporting it, as Lambda's Java runtime does.
     */
    private static void snapshot(RuntimeClient client, Logger logger) throws Exception {
        try {
            com.amazonaws.services.lambda.crac.Core.getGlobalContext().beforeCheckpoint(null);
        } catch (Exception e) {
            UserFault.filterStackTrace(e);
            report(logger, UserFault.of(e, true));
            client.initError(errorJson(e), "Runtime.BeforeCheckpointError");
            System.exit(64);
        }
        client.restoreNext();
        try {
            com.amazonaws.services.lambda.crac.Core.getGlobalContext().afterRestore(null);
        } catch (Exception e) {
            UserFault.filterStackTrace(e);
            report(logger, UserFault.of(e, true));
            client.restoreError(errorJson(e), "Runtime.AfterRestoreError");
            System.exit(64);
        }
    }

    private static void loop(RuntimeClient client, Handlers.Call call, Logger logger) throws Exception {
        while (true) {
            RuntimeClient.Invocation invocation = client.next();
            logger.setRequestId(invocation.requestId);
            if (invocation.traceId != null) {
                System.setProperty(TRACE_PROPERTY, invocation.traceId);
            } else {
                System.clearProperty(TRACE_PROPERTY);
            }
            boolean exit = false;
            try {
                byte[] payload = call.call(invocation.body, new InvocationContext(invocation));
                client.respond(invocation.requestId, payload);
                Thread.interrupted(); // a flag the handler left set must not break the next call
            } catch (UserFault fault) {
                exit = fault.fatal;
                report(logger, fault);
                client.error(invocation.requestId, fault.toJson(), fault.exception);
            } catch (Throwable t) {
                exit = t instanceof VirtualMachineError || t instanceof IOError;
                UserFault.filterStackTrace(t);
                report(logger, UserFault.of(t, false));
                client.error(invocation.requestId, errorJson(t), t.getClass().getName());
            }
            if (exit) {
                System.exit(1);
            }
        }
    }

    /** A failure in the log: at ERROR level in JSON format, as Lambda's runtime logs it. */
    private static void report(Logger logger, UserFault fault) {
        logger.log(fault.reportable(), logger.isJson() ? LogLevel.ERROR : LogLevel.UNDEFINED);
    }

    /** {"errorMessage", "errorType", "stackTrace": [...]} of an exception out of the handler. */
    static String errorJson(Throwable t) {
        StringBuilder out = new StringBuilder("{\"errorMessage\":");
        String message = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        Json.quote(message, out);
        out.append(",\"errorType\":");
        Json.quote(t.getClass().getName(), out);
        out.append(",\"stackTrace\":[");
        StackTraceElement[] frames = t.getStackTrace();
        for (int i = 0; i < frames.length; i++) {
            if (i > 0) {
                out.append(',');
            }
            Json.quote(frames[i].toString(), out);
        }
        return out.append("]}").toString();
    }

    /** The task root and its lib/*.jar, then the layers' java/lib/*.jar (each in name order). */
    private static ClassLoader customerLoader() throws MalformedURLException {
        String taskRoot = System.getenv("LAMBDA_TASK_ROOT");
        if (taskRoot == null) {
            taskRoot = System.getProperty("user.dir");
        }
        String optRoot = System.getenv("_EMBER_OPT_DIR");
        if (optRoot == null || optRoot.isEmpty()) {
            optRoot = "/opt";
        }
        List<URL> urls = new ArrayList<>();
        urls.add(new File(taskRoot).toURI().toURL());
        addJars(new File(taskRoot, "lib"), urls);
        addJars(new File(optRoot, "java/lib"), urls);
        // Parent first: the runtime's com.amazonaws.services.lambda.runtime classes win over
        // copies of aws-lambda-java-core a function bundles, as on Lambda.
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getSystemClassLoader());
    }

    private static void addJars(File dir, List<URL> urls) throws MalformedURLException {
        String[] names = dir.list();
        if (names == null) {
            return;
        }
        Arrays.sort(names);
        for (String name : names) {
            if (name.endsWith(".jar")) {
                urls.add(new File(dir, name).toURI().toURL());
            }
        }
    }

    private static void setLogger(LambdaLogger logger) throws ReflectiveOperationException {
        Field field = LambdaRuntime.class.getDeclaredField("logger");
        field.setAccessible(true);
        field.set(null, logger);
    }
}
