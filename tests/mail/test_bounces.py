"""Bounces (BULK-10): VERP and Message-ID matching, hard → bounced + suppressed + event,
soft → recorded only, and the outbox send check that skips suppressed recipients."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest
from factories import make_org
from flask import current_app

from server.extensions import db
from server.mail import outbox
from server.mail.bounces import BounceNotMatched, process_bounce, verp_address, verp_outbox_id
from server.mail.dsn import parse_dsn
from server.mail.inbound import route_inbound
from server.mail.inbound_models import DeadLetter
from server.mail.models import OutboxMessage
from server.mail.suppression import (
    SKIP_REASON,
    is_suppressed,
    suppress,
    suppressed_recipient_check,
    unsuppress,
)

from .inbound_world import captured, outbox_row, sample

POSTFIX_ID = "<1f0c9a7e2b5d4e8f9a0b1c2d3e4f5a60@liaison.localhost>"
DELAYED_ID = "<2a7d0e4b9c1f4a3e8b6d5c4b3a291807@liaison.localhost>"


def report_of(name: str):
    message = email.message_from_bytes(sample(name), policy=default_policy)
    return parse_dsn(message), message


def local_part(address: str) -> str:
    return address.rsplit("@", 1)[0]


def test_verp_address_round_trips_and_is_on_the_inbound_domain(app):
    address = verp_address(42)
    assert address.endswith("@" + current_app.config["INBOUND_DOMAIN"])
    assert verp_outbox_id(local_part(address)) == 42
    assert verp_outbox_id(local_part(address).upper()) == 42  # relays may change the case


def test_verp_forgery_is_refused(app):
    genuine = local_part(verp_address(41))
    signature = genuine.rsplit("-", 1)[1]
    assert verp_outbox_id(f"bounce+42-{signature}") is None  # another row, same signature
    assert verp_outbox_id("bounce+42-" + "0" * len(signature)) is None
    assert verp_outbox_id("bounce+42") is None
    assert verp_outbox_id("bounce+abc-def") is None


def test_forged_verp_bounce_leaves_the_row_alone_and_is_dead_lettered(app):
    org = make_org()
    row = outbox_row(org, "nobody@example.org")
    forged = f"bounce+{row.id}-{'a' * 16}@{current_app.config['INBOUND_DOMAIN']}"
    with captured("mail.bounced") as seen:
        result = route_inbound(sample("exim.eml"), [forged], "smtp")
    assert result.status == "dead_letter"
    assert "forged or malformed bounce address" in result.reason
    db.session.refresh(row)
    assert row.state == "sent" and not is_suppressed(org.id, "nobody@example.org")
    assert seen == []


def test_hard_bounce_by_verp_marks_bounced_suppresses_and_publishes(app):
    org = make_org()
    row = outbox_row(org, "Ghost@Example.org")
    with captured("mail.bounced") as seen:
        result = route_inbound(sample("exim.eml"), [verp_address(row.id)], "smtp")
    assert result.status == "routed", result.reason
    assert result.outcomes[0].kind == "bounce"
    db.session.refresh(row)
    assert row.state == "bounced"
    assert "5.1.1" in row.last_error and "User unknown" in row.last_error
    assert is_suppressed(org.id, "ghost@example.org")
    assert is_suppressed(org.id, "  GHOST@EXAMPLE.ORG ")
    assert not is_suppressed(make_org().id, "ghost@example.org")  # per org
    assert seen == [
        {
            "org_id": org.id,
            "outbox_id": row.id,
            "address": "Ghost@Example.org",
            "hard": True,
            "status": "5.1.1",
            "diagnostic": seen[0]["diagnostic"],
        }
    ]
    assert "SMTP error from remote mail server after RCPT TO" in seen[0]["diagnostic"]


def test_hard_bounce_matched_by_original_message_id(app):
    org = make_org()
    other = outbox_row(org, "someone@example.org")
    row = outbox_row(org, "nobody@example.org", message_id=POSTFIX_ID)
    postmaster = "postmaster@" + current_app.config["INBOUND_DOMAIN"]
    result = route_inbound(sample("rfc3464_postfix.eml"), [postmaster], "smtp")
    assert result.status == "routed", result.reason
    db.session.refresh(row)
    db.session.refresh(other)
    assert (row.state, other.state) == ("bounced", "sent")
    assert is_suppressed(org.id, "nobody@example.org")


def test_message_id_matching_stays_within_the_given_org(app):
    mine, theirs = make_org(), make_org()
    outbox_row(theirs, "nobody@example.org", message_id=POSTFIX_ID)
    report, message = report_of("rfc3464_postfix.eml")
    with pytest.raises(BounceNotMatched):
        process_bounce(report, message, org_id=mine.id)


def test_a_bounce_for_no_known_message_is_dead_lettered_not_dropped(app):
    make_org()
    bounces = "bounces@" + current_app.config["INBOUND_DOMAIN"]
    result = route_inbound(sample("qmail.eml"), [bounces], "smtp")
    assert result.status == "dead_letter"
    assert "bounce not matched to an outbox message" in result.reason
    assert db.session.get(DeadLetter, result.dead_letter_id).raw == sample("qmail.eml")


def test_soft_bounce_records_the_diagnostic_and_does_not_suppress(app):
    org = make_org()
    row = outbox_row(org, "slow@example.com", message_id=DELAYED_ID)
    with captured("mail.bounced") as seen:
        result = route_inbound(
            sample("rfc3464_postfix_delayed.eml"), [verp_address(row.id)], "smtp"
        )
    assert result.status == "routed", result.reason
    db.session.refresh(row)
    assert row.state == "sent"
    assert row.last_error.startswith("soft bounce 4.7.1") and "Greylisted" in row.last_error
    assert not is_suppressed(org.id, "slow@example.com")
    assert [(e["hard"], e["status"], e["outbox_id"]) for e in seen] == [(False, "4.7.1", row.id)]


def test_a_repeated_hard_bounce_publishes_once(app):
    org = make_org()
    row = outbox_row(org, "ghost@example.org")
    with captured("mail.bounced") as seen:
        for _ in range(2):
            route_inbound(sample("exim.eml"), [verp_address(row.id)], "smtp")
    assert len(seen) == 1


def test_only_the_rows_recipient_is_taken_from_a_multi_recipient_report(app):
    org = make_org()
    row = outbox_row(
        org, "gone@example.com", message_id="<3b8e1f5c0d2a4b6c9e7f8a1b2c3d4e5f@liaison.localhost>"
    )
    report, message = report_of("rfc3464_sendmail_multi.eml")
    outcomes = process_bounce(report, message)
    assert [(o.outbox_id, o.address, o.kind) for o in outcomes] == [
        (row.id, "gone@example.com", "hard")
    ]
    assert not is_suppressed(org.id, "full@example.com")


def test_a_subscriber_failure_rolls_the_bounce_back_and_keeps_the_message(app):
    org = make_org()
    row = outbox_row(org, "ghost@example.org")

    def broken(**payload):
        raise RuntimeError("trigger store is down")

    from server import events

    events.subscribe("mail.bounced", broken)
    try:
        result = route_inbound(sample("exim.eml"), [verp_address(row.id)], "smtp")
    finally:
        events.unsubscribe("mail.bounced", broken)
    assert result.status == "dead_letter"
    assert "trigger store is down" in result.reason
    db.session.refresh(row)
    assert row.state == "sent" and not is_suppressed(org.id, "ghost@example.org")


def test_suppression_is_case_insensitive_idempotent_and_removable(app):
    org = make_org()
    suppress(org.id, "Ann@Example.COM", "hard bounce")
    suppress(org.id, "ann@example.com", "again")
    db.session.commit()
    assert is_suppressed(org.id, "ANN@example.com")
    assert unsuppress(org.id, "ann@EXAMPLE.com")
    db.session.commit()
    assert not is_suppressed(org.id, "ann@example.com")


def test_hard_bounce_then_a_later_queued_message_is_skipped_by_the_send_check(app):
    org = make_org()
    first = outbox_row(org, "ghost@example.org")
    route_inbound(sample("exim.eml"), [verp_address(first.id)], "smtp")
    later = outbox.queue_message(
        org_id=org.id,
        recipient="GHOST@example.org",
        envelope_from=verp_address(0),
        content={"subject": "Again", "text": "Hello again"},
        message_id=outbox.new_message_id("liaison.localhost"),
    )
    db.session.commit()
    assert suppressed_recipient_check in outbox.BATCH_SEND_CHECKS
    fine = outbox_row(org, "fine@example.org", "queued")
    assert suppressed_recipient_check([later, fine]) == {later.id: SKIP_REASON}

    def no_transport(row):
        raise AssertionError(f"a suppressed message reached its transport: {row.recipient}")

    ids = outbox.claim_batch("test-worker")
    assert later.id in ids
    report = outbox.send_claimed([later.id], "test-worker", no_transport, no_transport)
    assert (report.skipped, report.sent, report.failed) == (1, 0, 0)
    later = db.session.get(OutboxMessage, later.id, populate_existing=True)
    assert (later.state, later.last_error) == ("skipped", SKIP_REASON)
