"""The outbox sending as a connected Microsoft or Google mailbox (Mail plumbing #3, items 4-5):
real MSAL / google-auth tokens from the loopback authorization server, the real Graph and Gmail
client code against loopback fakes; Retry-After honoured; mailbox throttles defer, not fail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from factories import make_org, make_user
from fakes.gmail_api import FakeGmail
from fakes.graph import FakeGraph

from server.clock import utcnow
from server.extensions import db
from server.mail import outbox, throttle
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due

from .mailbox_flows import TENANT, connected, sign_in


@pytest.fixture
def rep(client):
    org = make_org(name="Contoso", tenant_id=TENANT, domain="contoso.example")
    user = make_user(org, email="ada@contoso.example")
    sign_in(client, user)
    return user


@pytest.fixture(autouse=True)
def fresh_throttles(monkeypatch):
    """Throttle windows live in process memory without Redis: start each test with none."""
    monkeypatch.setattr(throttle, "_MEMORY", throttle.MemoryStore())


def queue(user, mailbox, transport: str, count: int = 1) -> list[OutboxMessage]:
    rows = [
        outbox.queue_message(
            org_id=user.org_id,
            user_id=user.id,
            recipient=f"bob{i}@example.org",
            envelope_from=mailbox.address,
            message_id=outbox.new_message_id("liaison.test"),
            transport=transport,
            mailbox_id=mailbox.id,
            content={
                "from": {"email": mailbox.address, "name": "Ada"},
                "to": [{"email": f"bob{i}@example.org"}],
                "subject": "Our offer",
                "html": "<p>Here it is.</p>",
            },
        )
        for i in range(count)
    ]
    db.session.commit()
    return rows


def test_graph_send_waits_for_retry_after_then_goes_as_the_mailbox(app, client, oauth, rep):
    mailbox, _ = connected(client, oauth, "microsoft")
    graph = FakeGraph(tokens=set(oauth.access_tokens)).start()
    app.config["GRAPH_BASE_URL"] = graph.base_url
    try:
        [row] = queue(rep, mailbox, "graph")
        graph.throttle(retry_after=120)

        send_due()
        db.session.refresh(row)
        assert row.state == "queued" and row.next_attempt_at >= utcnow() + timedelta(seconds=110)
        send_due()  # not before its Retry-After
        assert graph.sent == []

        with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
            send_due()
        db.session.refresh(row)
        assert row.state == "sent" and row.provider_message_id
        [sent] = graph.sent
        assert sent.user == mailbox.address
        assert row.message_id.encode() in sent.mime
    finally:
        graph.stop()


def test_mailbox_throttle_defers_without_counting_an_attempt(app, client, oauth, rep):
    mailbox, _ = connected(client, oauth, "microsoft")
    graph = FakeGraph(tokens=set(oauth.access_tokens)).start()
    app.config.update(GRAPH_BASE_URL=graph.base_url, MAIL_GRAPH_PER_MINUTE=2)
    try:
        queue(rep, mailbox, "graph", count=3)
        send_due()
        rows = db.session.query(OutboxMessage).order_by(OutboxMessage.id).all()
        assert [r.state for r in rows] == ["sent", "sent", "queued"]
        assert rows[2].attempts == 0 and "throttled" in rows[2].last_error
        assert len(graph.sent) == 2
        with time_machine.travel(utcnow() + timedelta(seconds=61)):
            send_due()
        db.session.refresh(rows[2])
        assert rows[2].state == "sent" and len(graph.sent) == 3
    finally:
        app.config["MAIL_GRAPH_PER_MINUTE"] = 30
        graph.stop()


def test_gmail_send_goes_through_the_gmail_api_as_the_mailbox(app, client, oauth, rep):
    mailbox, _ = connected(client, oauth, "google")
    gmail = FakeGmail(tokens=set(oauth.access_tokens)).start()
    app.config["GMAIL_DISCOVERY_URL"] = gmail.discovery_url
    try:
        [row] = queue(rep, mailbox, "gmail")
        send_due()
        db.session.refresh(row)
        assert row.state == "sent", row.last_error
        assert row.provider_message_id
    finally:
        app.config["GMAIL_DISCOVERY_URL"] = None
        gmail.stop()


def test_a_disconnected_mailbox_fails_the_message_with_the_reason(app, client, oauth, rep):
    mailbox, _ = connected(client, oauth, "microsoft")
    mailbox.status = "needs_reconnect"
    db.session.commit()
    [row] = queue(rep, mailbox, "graph")
    send_due()
    db.session.refresh(row)
    assert row.state == "failed" and "reconnect" in row.last_error
