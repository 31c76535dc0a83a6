"""AWS wire protocols: SigV4 checking, the credentials Ember issues to environments, signed
internal links, and error rendering for the JSON protocols.

Owns: canonicalising and verifying a SigV4 request (header and presigned query forms),
AWS's wording for its authentication errors, temporary session credentials, expiring HMAC
tokens for internal URLs, event-stream framing (`eventstream`), reading
requests and writing answers at every front door (`asgi`). Knows nothing of Lambda's
resources. Must never import any other
`ember` package (the beside-files `errors` and `clock` aside).
"""

from ember.protocols.sessions import Session, SessionIssuer
from ember.protocols.sigv4 import SignedRequest, parse_signature, verify

__all__ = ["Session", "SessionIssuer", "SignedRequest", "parse_signature", "verify"]
