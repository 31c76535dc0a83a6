"""Errors in the AWS query protocol's wire shape (form-encoded requests, XML answers: SNS):
`<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>…`."""

from __future__ import annotations

from xml.sax.saxutils import escape

from ember.errors import LambdaError

XML = "text/xml"

Headers = list[tuple[bytes, bytes]]


def query_error(error: LambdaError, request_id: str, namespace: str) -> tuple[int, Headers, bytes]:
    """Status, headers and body. `namespace`: the service's XML namespace, e.g.
    `http://sns.amazonaws.com/doc/2010-03-31/`. The status is the error's own (SNS answers
    NotFound with 404, authentication failures with 403, the rest of client faults 400)."""
    kind = "Receiver" if error.fault == "Service" else "Sender"
    body = (
        f'<ErrorResponse xmlns="{escape(namespace)}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    ).encode()
    headers = [
        (b"content-type", XML.encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    return error.status, headers, body
