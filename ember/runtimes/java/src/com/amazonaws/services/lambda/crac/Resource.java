package com.amazonaws.services.lambda.crac;

/** Something with hooks around SnapStart's snapshot (org.crac's Resource, through its Compat). */
public interface Resource {
    void beforeCheckpoint(Context<? extends Resource> context) throws Exception;

    void afterRestore(Context<? extends Resource> context) throws Exception;
}
