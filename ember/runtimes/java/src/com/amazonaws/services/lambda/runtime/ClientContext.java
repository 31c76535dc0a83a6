package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** What a mobile client sent with the invocation (Invoke's ClientContext). */
public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}
