"""The outbox end to end with the real SMTP transport and a loopback sink (Mail plumbing #3,
BULK-12): every message ends accepted or failed with its reason, none is sent before its retry
time, a lost worker's lease returns its rows, and a row is sent only once it was accepted."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from server.clock import utcnow
from server.extensions import db
from server.mail import outbox
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from tests.factories import make_org, make_user


def queue(org, user, recipients: list[str], **fields) -> list[OutboxMessage]:
    rows = [
        outbox.queue_message(
            org_id=org.id,
            user_id=user.id,
            recipient=address,
            envelope_from=user.email,
            message_id=outbox.new_message_id("liaison.test"),
            content={
                "from": {"email": user.email, "name": user.name},
                "to": [{"email": address}],
                "subject": f"Hello {address}",
                "html": f"<p>Hi {address}, here is the offer.</p>",
            },
            **fields,
        )
        for address in recipients
    ]
    db.session.commit()
    return rows


def states() -> dict[str, str]:
    db.session.expire_all()
    return {row.recipient: row.state for row in db.session.query(OutboxMessage)}


def test_due_messages_are_sent_once_over_one_reused_connection(app, relay):
    org = make_org()
    user = make_user(org, email="rep@org.example")
    addresses = [f"r{i}@example.org" for i in range(30)]
    queue(org, user, addresses)

    report = send_due(batch_size=7)

    assert report["sent"] == 30
    assert set(states().values()) == {"sent"}
    assert sorted(m.recipients[0] for m in relay.messages) == sorted(addresses)
    assert relay.connections == 1
    rows = db.session.query(OutboxMessage).all()
    assert all(r.sent_at and r.attempts == 1 and r.provider_message_id for r in rows)


def test_temporary_failure_waits_for_its_retry_time_then_sends(app, relay):
    org = make_org()
    user = make_user(org)
    [row] = queue(org, user, ["later@example.org"])
    relay.fail_next(451, count=1, stage="data")

    send_due()
    db.session.refresh(row)
    assert row.state == "queued" and "451" in row.last_error
    assert row.next_attempt_at > utcnow()

    send_due()  # not due yet: nothing is sent before its retry time
    assert relay.messages == [] and states()["later@example.org"] == "queued"

    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
        send_due()
    assert states()["later@example.org"] == "sent"
    assert len(relay.messages) == 1


def test_permanent_failure_keeps_its_reason_and_others_still_go(app, relay):
    org = make_org()
    user = make_user(org)
    relay.reject("nobody@example.org", 550)
    queue(org, user, ["nobody@example.org", "somebody@example.org"])

    send_due()

    rows = {r.recipient: r for r in db.session.query(OutboxMessage)}
    assert rows["nobody@example.org"].state == "failed"
    assert rows["nobody@example.org"].last_error.startswith("550")
    assert rows["somebody@example.org"].state == "sent"


def test_gives_up_after_max_attempts_with_the_last_reason(app, relay):
    org = make_org()
    user = make_user(org)
    [row] = queue(org, user, ["flaky@example.org"])
    row.max_attempts = 2
    db.session.commit()
    relay.fail_next(451, count=5, stage="rcpt")

    send_due()
    db.session.refresh(row)
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
        send_due()
    db.session.refresh(row)
    assert row.state == "failed"
    assert row.last_error.startswith("gave up after 2 attempts: 451")


def test_expired_lease_returns_rows_to_the_queue_and_another_worker_finishes(app, relay):
    org = make_org()
    user = make_user(org)
    queue(org, user, ["a@example.org", "b@example.org"])
    claimed = outbox.claim_batch("dead-worker", limit=10, lease_seconds=60)
    assert len(claimed) == 2 and set(states().values()) == {"sending"}

    assert outbox.reclaim_expired_leases() == 0  # lease still running: untouched
    assert outbox.claim_batch("other-worker") == []

    with time_machine.travel(utcnow() + timedelta(seconds=61)):
        assert outbox.reclaim_expired_leases() == 2
        send_due()
    assert set(states().values()) == {"sent"}
    counts = outbox.outbox_counts()
    assert counts["sent"] == 2 and counts["reclaimed"] == 2
    assert len(relay.messages) == 2


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_outcome(app, relay):
    org = make_org()
    user = make_user(org)
    [row] = queue(org, user, ["x@example.org"])
    outbox.claim_batch("slow-worker", lease_seconds=1)
    with time_machine.travel(utcnow() + timedelta(seconds=5)):
        outbox.reclaim_expired_leases()
        send_due()
    late = db.session.get(OutboxMessage, row.id)
    from server.mail.transport import PermanentFailure

    assert outbox.record_result(late, "slow-worker", PermanentFailure("late answer")) == ""
    db.session.refresh(late)
    assert late.state == "sent"


def test_send_checks_skip_a_message_at_send_time(app, relay):
    org = make_org()
    user = make_user(org)
    queue(org, user, ["keep@example.org", "stop@example.org"])

    def stop_one(row):
        return "recipient unsubscribed" if row.recipient == "stop@example.org" else None

    outbox.SEND_CHECKS.append(stop_one)
    try:
        send_due()
    finally:
        outbox.SEND_CHECKS.remove(stop_one)
    rows = {r.recipient: r for r in db.session.query(OutboxMessage)}
    assert rows["stop@example.org"].state == "skipped"
    assert rows["stop@example.org"].last_error == "recipient unsubscribed"
    assert [m.recipients for m in relay.messages] == [["keep@example.org"]]


def test_without_a_relay_messages_fail_with_the_reason(app):
    app.config["SMTP_HOST"] = None
    org = make_org()
    user = make_user(org)
    queue(org, user, ["y@example.org"])
    send_due()
    row = db.session.query(OutboxMessage).one()
    assert row.state == "failed" and "LIAISON_SMTP_HOST" in row.last_error


def test_smtp_return_path_is_the_rows_verp_so_its_bounce_finds_it(app, relay):
    from server.mail.bounces import verp_address
    from server.mail.inbound import route_inbound
    from server.mail.suppression import is_suppressed

    org = make_org()
    user = make_user(org)
    [row] = queue(org, user, ["gone@example.org"])
    send_due()
    [received] = relay.messages
    assert received.envelope_from == verp_address(row.id)

    dsn = (
        "From: MAILER-DAEMON@mx.example.org\r\n"
        f"To: {verp_address(row.id)}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.org\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--b--\r\n"
    ).encode()
    route_inbound(dsn, [verp_address(row.id)], "smtp")

    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).state == "bounced"
    assert is_suppressed(org.id, "Gone@Example.org")


def test_the_next_message_is_composed_while_the_relay_takes_in_the_previous_one(app, relay):
    """With PIPELINING the outbox reads the relay's reply to a message only after composing the
    next one (SmtpTransport.start), and each outcome is still the relay's answer to its row."""
    from server.mail.delivery import Delivery

    org = make_org()
    user = make_user(org)
    _first, second, _third = queue(org, user, ["a@example.org", "b@example.org", "c@example.org"])
    holding = relay.hold_after(0)  # the reply to the first message is held
    composed_while_held: list[str] = []
    ids = outbox.claim_batch("w1", limit=10, lease_seconds=60)

    with Delivery() as delivery:

        def compose(row: OutboxMessage) -> bytes:
            if row.id == second.id:
                # the relay has the first message and holds its reply: had the outbox waited
                # for that reply before composing, this would come after the SMTP timeout
                composed_while_held.append(row.recipient if holding.wait(10) else "")
                relay.fail_next(554, stage="data")  # the second one will be refused
                relay.release()
            return delivery.compose(row)

        report = outbox.send_claimed(ids, "w1", compose, delivery.transport_for)

    assert composed_while_held == ["b@example.org"]
    assert (report.sent, report.failed) == (2, 1)
    assert states() == {"a@example.org": "sent", "b@example.org": "failed", "c@example.org": "sent"}
    db.session.refresh(second)
    assert second.last_error.startswith("554")
