"""A worker killed with SIGKILL in the middle of a batch loses nothing (BULK-12, Mail plumbing #3):
its lease expires, another worker finishes, and the only duplicates are the messages that were in
flight at the moment of the kill (the one being sent, and on PostgreSQL the accepted ones whose
outcome was not yet committed, at most outbox_writer.UNWRITTEN_WHILE_SENDING), each of them counted
as reclaimed."""

from __future__ import annotations

import collections
import os
import signal
from datetime import timedelta

import pytest
import time_machine

from server.clock import utcnow
from server.extensions import db
from server.mail import outbox, outbox_writer
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from tests.factories import make_org, make_user
from tests.workers import start_python, wait_until, worker_env

WORKER = (
    "from server import create_app\n"
    "from server.mail.outbox_tasks import send_due\n"
    "app = create_app()\n"
    "with app.app_context():\n"
    "    send_due(batch_size=10)\n"
)
TOTAL = 600
LEASE = 30


@pytest.mark.parametrize("pipelining", [False, True], ids=["lock-step", "pipelining"])
def test_sigkill_mid_batch_loses_nothing_and_duplicates_only_in_flight(
    app, make_smtp_sink, pipelining
):
    # with PIPELINING the worker composes message 55 while 54 waits for its reply
    # (SmtpTransport.start); 55 goes out only after that reply, so the bound is the same
    smtp_sink = make_smtp_sink(pipelining=pipelining)
    org = make_org()
    user = make_user(org, email="sender@org.example")
    for i in range(TOTAL):
        outbox.queue_message(
            org_id=org.id,
            user_id=user.id,
            recipient=f"r{i}@example.org",
            envelope_from=user.email,
            message_id=outbox.new_message_id("liaison.test"),
            content={"from": {"email": user.email}, "subject": f"#{i}", "text": f"message {i}"},
        )
    db.session.commit()
    db.session.remove()  # the SQLite file is shared with the worker: hold no transaction open

    env = worker_env(
        app,
        SMTP_HOST=smtp_sink.host,
        SMTP_PORT=smtp_sink.port,
        SMTP_SECURITY="none",
        OUTBOX_LEASE_SECONDS=LEASE,
    )
    holding = smtp_sink.hold_after(53)  # the 54th message is stored but never answered
    worker = start_python(WORKER, env)
    try:
        wait_until(holding.is_set, 120, "the worker to be in the middle of message 54")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        smtp_sink.release()

    # message 54 was in flight: received by the sink, never acknowledged; its batch of ten
    # (51..60) is still claimed by the dead worker. On PostgreSQL the outcomes of the messages
    # just before it may still have been in the writer's uncommitted group (outbox_writer):
    # those were accepted without their row saying so, and are the other possible duplicates.
    assert len(smtp_sink.messages) == 54
    sent_at_kill = db.session.query(OutboxMessage).filter_by(state="sent").count()
    unconfirmed = 54 - sent_at_kill
    assert 1 <= unconfirmed <= outbox_writer.UNWRITTEN_WHILE_SENDING + 1
    if db.engine.dialect.name == "sqlite":  # outcomes committed one by one in the session
        assert unconfirmed == 1
    in_flight = db.session.query(OutboxMessage).filter_by(state="sending").count()
    assert in_flight == 60 - sent_at_kill

    assert outbox.reclaim_expired_leases() == 0  # its lease has not expired yet
    app.config.update(SMTP_HOST=smtp_sink.host, SMTP_PORT=smtp_sink.port, SMTP_SECURITY="none")
    with time_machine.travel(utcnow() + timedelta(seconds=LEASE + 1)):
        assert outbox.reclaim_expired_leases() == in_flight
        send_due(batch_size=50)

    db.session.expire_all()
    rows = db.session.query(OutboxMessage).all()
    assert collections.Counter(r.state for r in rows) == {"sent": TOTAL}
    received = collections.Counter(m.recipients[0] for m in smtp_sink.messages)
    assert set(received) == {r.recipient for r in rows}  # none lost
    duplicated = {address for address, n in received.items() if n > 1}
    reclaimed = {r.recipient for r in rows if r.reclaimed}
    assert duplicated <= reclaimed  # every duplicate is a reclaimed, in-flight message
    assert len(duplicated) == unconfirmed  # the messages in flight at the kill, and only they
    assert outbox.outbox_counts()["reclaimed"] == in_flight
