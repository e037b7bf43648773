"""The outbox after the batch send checks and the outcome writer (Mail plumbing #3, BULK-10,
BULK-12): "mail.sent" is published once per row marked sent, a failing subscriber never unmarks a
sent row, and the send checks cost a few queries per claimed batch, not per message."""

from __future__ import annotations

from server import events
from server.extensions import db
from server.mail import outbox
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from server.mail.suppression import is_suppressed, suppress
from tests.factories import make_org, make_user
from tests.mail.test_outbox import queue, states


def test_mail_sent_is_published_for_each_sent_row_after_it_is_marked(app, relay):
    org = make_org()
    user = make_user(org)
    relay.reject("nobody@example.org", 550)
    rows = queue(org, user, ["a@example.org", "nobody@example.org", "b@example.org"])
    rows[0].group_key = "log:1"
    db.session.commit()
    seen: list[dict] = []

    def on_sent(**payload):
        row = db.session.get(OutboxMessage, payload["outbox_id"])
        seen.append({**payload, "state_then": row.state})
        suppress(payload["org_id"], f"seen{payload['outbox_id']}@example.org", "subscriber")

    events.subscribe(outbox.SENT_EVENT, on_sent)
    try:
        send_due()
    finally:
        events.unsubscribe(outbox.SENT_EVENT, on_sent)
    by_id = {p["outbox_id"]: p for p in seen}
    assert set(by_id) == {rows[0].id, rows[2].id}  # not the failed one
    assert by_id[rows[0].id] == {
        "org_id": org.id,
        "outbox_id": rows[0].id,
        "group_key": "log:1",
        "purpose": "one_to_one",
        "user_id": user.id,
        "state_then": "sent",
    }
    db.session.remove()  # what the subscriber wrote was committed
    assert is_suppressed(org.id, f"seen{rows[2].id}@example.org")


def test_a_failing_subscriber_leaves_the_row_sent_and_the_others_going(app, relay):
    org = make_org()
    user = make_user(org)
    queue(org, user, ["x@example.org", "y@example.org"])

    def broken(**_payload):
        raise RuntimeError("subscriber bug")

    events.subscribe(outbox.SENT_EVENT, broken)
    try:
        report = send_due()
    finally:
        events.unsubscribe(outbox.SENT_EVENT, broken)
    assert report["sent"] == 2
    assert states() == {"x@example.org": "sent", "y@example.org": "sent"}
    assert len(relay.messages) == 2


def test_send_checks_run_once_per_batch_and_still_stop_a_late_suppression(
    app, relay, count_queries
):
    org = make_org()
    user = make_user(org)
    addresses = [f"r{i}@example.org" for i in range(8)]
    queue(org, user, addresses)
    suppress(org.id, "R3@example.org", "hard bounce after queueing")  # before the send
    db.session.commit()
    count_queries.clear()

    report = send_due()

    assert report["sent"] == 7 and report["skipped"] == 1
    assert states()["r3@example.org"] == "skipped"
    assert "r3@example.org" not in {m.recipients[0] for m in relay.messages}
    lookups = [s for s in count_queries if "FROM mail_suppressions" in s]
    assert len(lookups) == 1  # one query for the whole claimed batch


def test_an_outcome_is_not_written_over_a_row_another_worker_took_meanwhile(app, relay):
    """The writer's grouped UPDATE only touches rows this worker still leases (BULK-12)."""
    from server.mail.delivery import Delivery
    from server.mail.outbox_writer import OutcomeWriter

    org = make_org()
    user = make_user(org)
    rows = queue(org, user, ["p@example.org", "q@example.org", "r@example.org"])
    ids = outbox.claim_batch("me")
    stolen = rows[1].id

    with Delivery() as delivery, OutcomeWriter("me", pipelined=True) as writer:

        def compose(row):  # the lease of q moves to another worker while q is being sent
            if row.id == stolen:
                db.session.query(OutboxMessage).filter_by(id=stolen).update(
                    {"lease_owner": "other"}
                )
                db.session.commit()
            return delivery.compose(row)

        report = outbox.send_claimed(ids, "me", compose, delivery.transport_for, writer=writer)
    outbox.count_outcomes(writer.states, report)

    assert len(relay.messages) == 3  # q went (this worker still believed it held it)
    assert report.sent == 2 and report.lost_lease == 1
    db.session.expire_all()
    taken = db.session.get(OutboxMessage, stolen)
    assert (taken.state, taken.lease_owner) == ("sending", "other")
    assert states()["p@example.org"] == states()["r@example.org"] == "sent"
