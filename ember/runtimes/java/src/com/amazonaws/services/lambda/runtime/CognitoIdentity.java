package com.amazonaws.services.lambda.runtime;

/** The Amazon Cognito identity that invoked the function, if any. */
public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
