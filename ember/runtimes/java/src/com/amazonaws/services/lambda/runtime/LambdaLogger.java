package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

/** Writes to the function's log stream (no newline added, as Lambda's). */
public interface LambdaLogger {
    void log(String message);

    void log(byte[] message);

    default void log(String message, LogLevel logLevel) {
        log(message);
    }

    default void log(byte[] message, LogLevel logLevel) {
        log(message);
    }
}
