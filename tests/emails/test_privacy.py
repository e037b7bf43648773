"""Privacy level per logged email (LOG-1): full, subject, metadata; org minimum; who sees what."""

from __future__ import annotations

from server.emails.service import email_view, log_email
from server.orgs.settings import effective_settings, set_org_settings
from tests.emails.conftest import b64, sample
from tests.factories import ApiClient, make_org, make_user


def team():
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    carol = make_user(org, email="carol@acme.test")
    boss = make_user(org, role="super_admin", email="boss@acme.test")
    return org, alice, carol, boss


def test_each_level_shows_what_it_allows_to_others(app):
    """LOG-1: subject = subject + metadata; metadata = parties, time, associations only. The
    logger (sender) sees everything; colleagues and super-admins what the level allows."""
    org, alice, carol, boss = team()
    raw = sample("mixed_attachments.eml")
    full = log_email(alice, raw=raw).email
    subject = log_email(
        alice, raw=raw.replace(b"Message-ID: <", b"Message-ID: <s-"), privacy="subject"
    ).email
    meta = log_email(
        alice, raw=raw.replace(b"Message-ID: <", b"Message-ID: <m-"), privacy="metadata"
    ).email
    assert email_view(full, carol)["body_text"].startswith("Hello Bob")
    for email in (subject, meta):
        mine = email_view(email, alice)
        assert mine["visible"] == "full" and mine["body_text"] and len(mine["attachments"]) == 2
        for viewer in (carol, boss, None):
            seen = email_view(email, viewer)
            assert seen["restricted"] and seen["privacy"] == email.privacy
            assert seen["body_text"] is None and seen["body_html"] is None
            assert seen["attachments"] == [] and seen["attachment_count"] == 2
            assert seen["from"]["email"] == "alice@acme.test"
            assert seen["to"] and seen["sent_at"] and seen["associations"] is not None
    assert email_view(subject, carol)["subject"] == "Quote attached"
    assert email_view(meta, carol)["subject"] is None


def test_the_sender_sees_everything_even_when_a_colleague_logged_it(app):
    """LOG-1: the user whose address is the From sees full content."""
    org, alice, carol, boss = team()
    email = log_email(
        carol, raw=sample("mixed_attachments.eml"), privacy="metadata", direction="out"
    ).email
    assert email.logged_by_id == carol.id
    assert email_view(email, alice)["visible"] == "full"  # From: alice@acme.test
    assert email_view(email, boss)["visible"] == "metadata"


def test_the_org_minimum_and_stricter_wins(app, client):
    """LOG-1: never below email_privacy_minimum; a second logging may restrict, never open up."""
    org, alice, carol, boss = team()
    set_org_settings(boss, {"email_privacy_minimum": "subject"})
    assert effective_settings(alice)["email_privacy_minimum"] == {
        "value": "subject",
        "locked": True,
    }
    raw = (
        b"From: Bob <bob@customer.test>\r\nTo: alice@acme.test, carol@acme.test\r\n"
        b"Subject: Terms\r\nMessage-ID: <terms@customer.test>\r\n\r\nOur terms.\r\n"
    )
    api = ApiClient(client, alice)
    logged = api.post("/api/emails/log", json={"raw": b64(raw), "privacy": "full"})
    assert logged.json["email"]["privacy"] == "subject"
    again = ApiClient(client, carol).post(
        "/api/emails/log", json={"raw": b64(raw), "privacy": "metadata"}
    )
    assert again.json["status"] == "already_logged" and again.json["email"]["privacy"] == "metadata"
    assert again.json["email"]["subject"] is None  # carol is neither its logger nor its sender
    third = api.post("/api/emails/log", json={"raw": b64(raw), "privacy": "full"})
    assert third.json["email"]["privacy"] == "metadata"
    assert third.json["email"]["body_text"].startswith("Our terms")  # alice logged it first
    got = ApiClient(client, carol).get(f"/api/emails/{logged.json['email']['id']}")
    assert got.json["restricted"] and got.json["body_text"] is None
    bad = api.post("/api/emails/log", json={"raw": b64(raw), "privacy": "secret"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "privacy"


def test_log_internal_mail_is_a_declared_setting(app):
    """LOG-6: internal mail is logged when log_internal_mail is on."""
    org, alice, carol, boss = team()
    raw = (
        b"From: alice@acme.test\r\nTo: carol@acme.test\r\nSubject: lunch\r\n"
        b"Message-ID: <lunch@acme.test>\r\n\r\nnoon?\r\n"
    )
    assert log_email(alice, raw=raw).status == "not_logged"
    set_org_settings(boss, {"log_internal_mail": True})
    assert log_email(alice, raw=raw).status == "logged"
