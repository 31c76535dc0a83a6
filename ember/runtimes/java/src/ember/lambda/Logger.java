package ember.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The function's LambdaLogger, as Lambda's Java runtime formats it: with
 * AWS_LAMBDA_LOG_FORMAT=TEXT (the default) the message as given, "[LEVEL] " before it when a
 * level is named; with JSON one {"timestamp","level","message","AWSRequestId"} line. Messages
 * below AWS_LAMBDA_LOG_LEVEL are dropped (those logged without a level never are).
 */
final class Logger implements LambdaLogger {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final boolean json;
    private final LogLevel minimum;
    private volatile String requestId;

    Logger(String format, String level) {
        this.json = "JSON".equalsIgnoreCase(format);
        LogLevel parsed = LogLevel.UNDEFINED;
        if (level != null && !level.isEmpty()) {
            try {
                parsed = LogLevel.fromString(level);
            } catch (IllegalArgumentException e) {
                parsed = LogLevel.UNDEFINED;
            }
        }
        this.minimum = parsed;
    }

    boolean isJson() {
        return json;
    }

    /** The invocation the next lines belong to (JSON lines name it). */
    void setRequestId(String requestId) {
        this.requestId = requestId;
    }

    private boolean enabled(LogLevel level) {
        return level == LogLevel.UNDEFINED || level.ordinal() >= minimum.ordinal();
    }

    public void log(String message) {
        log(message, LogLevel.UNDEFINED);
    }

    public void log(byte[] message) {
        log(message, LogLevel.UNDEFINED);
    }

    public void log(String message, LogLevel level) {
        if (message == null || !enabled(level)) {
            return;
        }
        String text;
        if (json) {
            StringBuilder out = new StringBuilder(message.length() + 96);
            out.append("{\"timestamp\":");
            Json.quote(TIME.format(Instant.now()), out);
            out.append(",\"level\":");
            Json.quote(level.name(), out);
            out.append(",\"message\":");
            Json.quote(message, out);
            if (requestId != null) {
                out.append(",\"AWSRequestId\":");
                Json.quote(requestId, out);
            }
            text = out.append("}\n").toString();
        } else {
            text = level == LogLevel.UNDEFINED ? message : "[" + level.name() + "] " + message;
        }
        write(text.getBytes(StandardCharsets.UTF_8));
    }

    public void log(byte[] message, LogLevel level) {
        if (message != null && enabled(level)) {
            write(message); // raw bytes: no formatting, as Lambda's
        }
    }

    private synchronized void write(byte[] bytes) {
        System.out.write(bytes, 0, bytes.length);
        System.out.flush();
    }
}
