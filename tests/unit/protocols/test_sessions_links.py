"""Environment sessions and signed internal links, on a manual clock."""

from __future__ import annotations

import pytest

from ember.clock import ManualClock
from ember.errors import AccessDeniedError
from ember.protocols.links import LinkSigner
from ember.protocols.sessions import SessionIssuer


def test_sessions_are_found_until_revoked_and_forgotten_once_expired() -> None:
    clock = ManualClock()
    issuer = SessionIssuer(clock, "123456789012", lifetime=60)
    session = issuer.issue("fn", "arn:aws:iam::123456789012:role/service-role/my-role")
    assert session.access_key.startswith("ASIA")
    assert session.principal == "arn:aws:sts::123456789012:assumed-role/my-role/fn"
    assert set(session.variables()) == {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    }  # fmt: skip
    assert issuer.find(session.access_key) is session
    issuer.revoke(session.access_key)
    assert issuer.find(session.access_key) is None
    old = issuer.issue("fn", "r")
    clock.advance(61)
    assert old.expires_at < clock.wall()
    issuer.issue("fn", "r")  # issuing sweeps the expired ones
    assert issuer.find(old.access_key) is None
    assert len(issuer) == 1


def test_links_work_for_ten_minutes_and_only_as_signed() -> None:
    clock = ManualClock()
    signer = LinkSigner(clock)
    link = signer.sign("/_ember/code/abc")
    path, _, query = link.partition("?")
    signer.check(path, query)
    with pytest.raises(AccessDeniedError):
        signer.check("/_ember/code/abd", query)
    with pytest.raises(AccessDeniedError):
        signer.check(path, "")
    with pytest.raises(AccessDeniedError):
        LinkSigner(clock).check(path, query)  # another server's secret
    clock.advance(600)
    signer.check(path, query)
    clock.advance(1)
    with pytest.raises(AccessDeniedError, match="Request has expired"):
        signer.check(path, query)
