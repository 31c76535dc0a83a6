package com.amazonaws.services.lambda.crac;

/** After-restore hooks failed: each failure is a suppressed exception of this one. */
public class RestoreException extends Exception {
    private static final long serialVersionUID = 1L;

    public RestoreException() {
    }
}
