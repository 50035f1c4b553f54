"""The console's session cookies and CSRF tokens: signed, bound to one session, ended
by time (logout is the store's: test_console_replicas.py)."""

from __future__ import annotations

from bastion.console.session import ADMIN, GATEWAY_KEY, SessionSigner


def test_a_tampered_or_expired_cookie_is_refused() -> None:
    signer = SessionSigner(b"k" * 32, ttl_s=60)
    session, cookie = signer.open("tok12345", now=1000.0)
    assert signer.read(cookie, now=1001.0) == session
    body, _, mac = cookie.rpartition(".")
    forged = body.replace("tok12345", "tok99999") + "." + mac
    assert signer.read(forged, now=1001.0) is None
    assert signer.read(cookie, now=1000.0 + 61) is None
    assert SessionSigner(b"x" * 32).read(cookie, now=1001.0) is None
    assert signer.csrf_matches(session, signer.csrf_token(session))
    other, _ = signer.open("tok12345", now=1000.0)
    assert not signer.csrf_matches(other, signer.csrf_token(session))


def test_a_gateway_key_session_keeps_its_kind_under_the_signature() -> None:
    signer = SessionSigner(b"k" * 32, ttl_s=60)
    session, cookie = signer.open("key12345", now=1000.0, kind=GATEWAY_KEY)
    assert signer.read(cookie, now=1001.0) == session and session.kind == GATEWAY_KEY
    admin, admin_cookie = signer.open("key12345", now=1000.0)
    assert signer.read(admin_cookie, now=1001.0) == admin and admin.kind == ADMIN
    # a key session's cookie relabelled as an admin token's: the signature breaks
    assert signer.read("v1" + cookie.removeprefix("k1"), now=1001.0) is None
