"""The OAuth example's route (payload format 2.0): greets the caller its authorizer let in,
from the JWT's claims or from the Lambda authorizer's context."""

import json


def handler(event, context):
    authorizer = event["requestContext"].get("authorizer") or {}
    if "jwt" in authorizer:
        claims = authorizer["jwt"]["claims"]
        answer = {
            "message": f"Hello, {claims.get('sub', 'someone')}!",
            "authorized_by": "JWT authorizer",
            "scopes": authorizer["jwt"]["scopes"],
            "token_expires": claims.get("exp"),
        }
    elif "lambda" in authorizer:
        user = (authorizer["lambda"] or {}).get("user", "someone")
        answer = {"message": f"Hello, {user}!", "authorized_by": "Lambda authorizer"}
    else:
        answer = {"message": "Hello, anonymous!", "authorized_by": None}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(answer),
    }
