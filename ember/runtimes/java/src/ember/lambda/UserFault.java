package ember.lambda;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.HashSet;
import java.util.Set;

/**
 * A failure to report with the runtime's own words (a handler that cannot be loaded, bad
 * input), as Lambda's Java runtime reports them: its message and type, no stack trace in the
 * error document. `fatal`: the environment cannot go on (the runtime exits after reporting).
 */
final class UserFault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final String OWN_PACKAGE = "ember.lambda.";

    final String msg;
    final String exception; // the exception class name, or null
    final String trace; // printed to the log, or null
    final boolean fatal;

    UserFault(String msg, String exception, String trace, boolean fatal) {
        super(msg, null, false, false);
        this.msg = msg;
        this.exception = exception;
        this.trace = trace;
        this.fatal = fatal;
    }

    static UserFault of(String msg) {
        return new UserFault(msg, null, null, false);
    }

    static UserFault of(Throwable t, boolean fatal) {
        String msg = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        return new UserFault(msg, t.getClass().getName(), trace(t), fatal);
    }

    static String trace(Throwable t) {
        filterStackTrace(t);
        StringWriter out = new StringWriter();
        t.printStackTrace(new PrintWriter(out));
        return out.toString();
    }

    /** Drop the runtime's own frames (from the first one down), in causes too. */
    static <T extends Throwable> T filterStackTrace(T t) {
        filter(t, new HashSet<>());
        return t;
    }

    private static void filter(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] frames = t.getStackTrace();
        for (int i = 0; i < frames.length; i++) {
            if (frames[i].getClassName().startsWith(OWN_PACKAGE)) {
                StackTraceElement[] kept = new StackTraceElement[i];
                System.arraycopy(frames, 0, kept, 0, i);
                t.setStackTrace(kept);
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable s : t.getSuppressed()) {
            filter(s, seen);
        }
    }

    /** What the runtime writes to the log for it (Lambda's "msg: type\ntrace\n"). */
    String reportable() {
        if (exception != null || trace != null) {
            return msg + ": " + (exception == null ? "" : exception) + "\n" + (trace == null ? "" : trace) + "\n";
        }
        return msg + "\n";
    }

    /** The error document: errorMessage and errorType (when known), no stackTrace. */
    String toJson() {
        StringBuilder out = new StringBuilder("{\"errorMessage\":");
        Json.quote(msg, out);
        if (exception != null) {
            out.append(",\"errorType\":");
            Json.quote(exception, out);
        }
        return out.append('}').toString();
    }

    static UserFault classNotFound(Throwable e, String className) {
        return new UserFault("Class not found: " + className, e.getClass().getName(), trace(e), false);
    }

    static UserFault initError(Throwable e, String className) {
        return new UserFault("Error loading class " + className + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                e.getClass().getName(), trace(e), true);
    }
}
