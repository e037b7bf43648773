"""Logging by BCC through the inbound router (LOG-2)."""

from __future__ import annotations

from sqlalchemy import func, select

from server.emails.models import LoggedEmail
from server.extensions import db
from server.mail.inbound import route_inbound
from server.mail.inbound_addresses import logging_address, rotate_logging_address
from server.mail.inbound_models import DeadLetter
from server.mail.mailbox_models import ConnectedMailbox
from tests.emails.conftest import sample
from tests.factories import make_org, make_user


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_mail_from_the_user_is_logged_as_them(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    address = logging_address(alice.id)
    result = route_inbound(sample("mixed_attachments.eml"), [address], "smtp")
    assert result.status == "routed", result.reason
    assert "logged as email" in result.outcomes[0].detail
    row = db.session.scalars(select(LoggedEmail)).one()
    assert (row.source, row.logged_by_id, row.direction) == ("bcc", alice.id, "out")
    again = route_inbound(sample("mixed_attachments.eml"), [address], "smtp")
    assert "already_logged" in again.outcomes[0].detail and count(LoggedEmail) == 1


def test_a_connected_mailbox_counts_as_the_user(app):
    org = make_org()
    alice = make_user(org, email="alice@corp.test")
    db.session.add(ConnectedMailbox(org_id=org.id, user_id=alice.id, provider="google",
                                    account_id="a", address="Alice@acme.test"))  # fmt: skip
    db.session.commit()
    result = route_inbound(sample("calendar_invite.eml"), [logging_address(alice.id)], "http")
    assert result.status == "routed", result.reason and count(LoggedEmail) == 1


def test_mail_from_someone_else_is_dead_lettered(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    make_user(org, email="bob@customer.test")
    result = route_inbound(sample("nested_alternative.eml"), [logging_address(alice.id)], "smtp")
    assert result.status == "dead_letter"
    assert "bob@customer.test is not the owner of logging address" in result.reason
    letter = db.session.get(DeadLetter, result.dead_letter_id)
    assert letter.org_id == org.id and letter.raw == sample("nested_alternative.eml")
    assert count(LoggedEmail) == 0


def test_rotated_address_no_longer_logs(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    old = logging_address(alice.id)
    rotate_logging_address(alice.id)
    result = route_inbound(sample("mixed_attachments.eml"), [old], "smtp")
    assert result.status == "dead_letter" and count(LoggedEmail) == 0


def test_never_logged_mail_is_routed_not_dead_lettered(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    raw = (
        b"From: alice@acme.test\r\nTo: carl@acme.test\r\nSubject: internal\r\n"
        b"Message-ID: <i@acme.test>\r\n\r\nhi\r\n"
    )
    result = route_inbound(raw, [logging_address(alice.id)], "smtp")
    assert result.status == "routed"
    assert result.outcomes[0].detail.startswith("not logged: internal mail")
    assert count(LoggedEmail) == 0 and count(DeadLetter) == 0
