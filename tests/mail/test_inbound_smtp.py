"""The inbound SMTP listener end to end (LOG-2, BULK-10): smtplib on 127.0.0.1 talks to the real
aiosmtpd listener, which routes through the same function as the HTTP endpoint."""

from __future__ import annotations

import smtplib
import socket

import pytest
from factories import make_org, make_user
from flask import current_app

from server.extensions import db
from server.mail.bounces import verp_address
from server.mail.inbound_addresses import logging_address
from server.mail.inbound_models import DeadLetter
from server.mail.inbound_smtp import start_listener
from server.mail.suppression import is_suppressed

from .inbound_world import handler, outbox_row, recorder, sample

MAX_BYTES = 100_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listener(app):
    controller = start_listener(app, "127.0.0.1", free_port(), max_bytes=MAX_BYTES)
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def smtp(listener):
    with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as connection:
        connection.ehlo("mx.example.net")
        yield connection


def send(smtp: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> tuple[int, bytes]:
    """MAIL, RCPT, DATA without the SIZE option; returns the final reply."""
    assert smtp.mail(sender)[0] == 250
    code, reply = smtp.rcpt(recipient)
    assert code == 250, reply
    return smtp.data(raw)


def test_logging_address_without_a_handler_is_accepted_and_dead_lettered(app, smtp):
    org = make_org()
    address = logging_address(make_user(org).id)
    with handler("log", None):
        code, reply = send(smtp, "ada@acme.example", address, sample("bcc_logged.eml"))
    assert code == 250
    (row,) = db.session.query(DeadLetter).all()
    assert f"dead letter {row.id}".encode() in reply
    assert (row.reason, row.source, row.org_id) == ("logging not available", "smtp", org.id)
    assert row.envelope_recipients == [address]
    assert row.raw == sample("bcc_logged.eml")


def test_logging_address_reaches_its_handler(app, smtp):
    user = make_user(make_org())
    seen: list = []
    with handler("log", recorder(seen)):
        smtp.sendmail("ada@acme.example", [logging_address(user.id)], sample("bcc_logged.eml"))
    assert [(d.user_id, d.source) for d in seen] == [(user.id, "smtp")]
    assert db.session.query(DeadLetter).count() == 0


def test_a_dsn_to_a_verp_address_bounces_the_row(app, smtp):
    org = make_org()
    row = outbox_row(org, "ghost@example.org")
    code, _ = send(smtp, "", verp_address(row.id), sample("exim.eml"))
    assert code == 250
    db.session.refresh(row)
    assert row.state == "bounced"
    assert is_suppressed(org.id, "ghost@example.org")


def test_recipients_of_other_domains_are_refused_at_rcpt(app, smtp):
    smtp.mail("spammer@example.net")
    code, reply = smtp.rcpt("victim@example.com")
    assert code == 550 and b"relay denied" in reply
    code, reply = smtp.rcpt(f"bounce+1-{'0' * 16}@{current_app.config['INBOUND_DOMAIN']}")
    assert code == 550 and b"forged or malformed bounce address" in reply
    smtp.rset()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail("spammer@example.net", ["victim@example.com"], sample("bcc_logged.eml"))
    assert refused.value.recipients["victim@example.com"][0] == 550


def test_an_oversized_message_is_refused_with_552_and_the_limit(app, smtp):
    address = logging_address(make_user(make_org()).id)
    big = sample("bcc_logged.eml") + b"x" * 76 + (b"\r\n" + b"y" * 78) * (MAX_BYTES // 80)
    with pytest.raises(smtplib.SMTPSenderRefused) as announced:  # MAIL FROM ... SIZE=n
        smtp.sendmail("ada@acme.example", [address], big)
    assert announced.value.smtp_code == 552
    assert b"up to 100000 bytes" in announced.value.smtp_error
    smtp.rset()
    code, reply = send(smtp, "ada@acme.example", address, big)  # found while reading DATA
    assert code == 552
    assert reply.startswith(b"5.3.4 Message too big") and b"100000 bytes" in reply
    assert db.session.query(DeadLetter).count() == 0


def test_malformed_mime_is_kept_as_a_dead_letter_and_the_listener_goes_on(app, smtp):
    address = logging_address(make_user(make_org()).id)
    code, _ = send(smtp, "broken@example.net", address, sample("malformed_multipart.eml"))
    assert code == 250
    (row,) = db.session.query(DeadLetter).all()
    assert "NoBoundaryInMultipartDefect" in row.reason
    seen: list = []
    with handler("log", recorder(seen)):
        code, _ = send(smtp, "ada@acme.example", address, sample("bcc_logged.eml"))
    assert code == 250 and len(seen) == 1
