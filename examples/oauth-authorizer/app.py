"""The OAuth example's Lambda authorizer (payload format 2.0, simple responses): lets in a
request whose `x-api-key` header holds a known key, and tells the route who it is."""

# A demo's keys: a real authorizer would look them up in a store or introspect a token.
API_KEYS = {"demo-key": "alice", "other-demo-key": "bob"}


def handler(event, context):
    user = API_KEYS.get(event["headers"].get("x-api-key", ""))
    print(f"authorizing {event['routeArn']}: {'allowed ' + user if user else 'denied'}")
    return {"isAuthorized": user is not None, "context": {"user": user or ""}}
