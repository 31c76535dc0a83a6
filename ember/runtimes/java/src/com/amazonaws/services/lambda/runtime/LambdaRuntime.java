package com.amazonaws.services.lambda.runtime;

import java.io.IOException;

/** The function's logger outside a Context; the runtime sets `logger` when it starts. */
public final class LambdaRuntime {
    private LambdaRuntime() {
    }

    private static volatile LambdaLogger logger = new LambdaLogger() {
        public void log(String message) {
            System.out.print(message);
        }

        public void log(byte[] message) {
            try {
                System.out.write(message);
            } catch (IOException e) {
                e.printStackTrace();
            }
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}
