package com.amazonaws.services.lambda.crac;

/** Before-snapshot hooks failed: each failure is a suppressed exception of this one. */
public class CheckpointException extends Exception {
    private static final long serialVersionUID = 1L;

    public CheckpointException() {
    }
}
