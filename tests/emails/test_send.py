"""One-to-one send from a record (ONE-1..3): To among the record's addresses, From a mailbox or
the org address, merge fields, now or scheduled in the user's zone, one consent gate call, through
the outbox, logged once sent."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy

import pytest
from sqlalchemy import func, select

from server import jobs
from server.clock import utcnow
from server.emails.models import LoggedEmail
from server.extensions import db
from server.mail.mailbox_models import ConnectedMailbox
from server.mail.models import OutboxMessage
from server.orgs.settings import set_org_settings, set_user_settings
from tests.factories import (
    ApiClient,
    associate,
    make_company,
    make_contact,
    make_org,
    make_ticket,
    make_user,
)
from tests.workers import wait_until


@pytest.fixture
def runner(app):
    yield jobs.start_inline_runner
    existing = app.extensions.pop("inline_runner", None)
    if existing is not None:
        existing.stop()


def world(privacy: bool = False):
    org = make_org(domain="acme.test", org_address="sales@acme.test")
    if privacy:
        set_org_settings(None, {"data_privacy": True}, org_id=org.id)
    alice = make_user(org, email="alice@acme.test", name="Alice Rep")
    company = make_company(org, name="Customer Ltd", domains=["customer.test"])
    bob = make_contact(org, ["bob@customer.test", "bob.home@mail.test"], company=company,
                       first_name="Bob", last_name="Stone")  # fmt: skip
    return org, alice, company, bob


def rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def send(api, record: str, record_id: int, **body):
    body.setdefault("html", "<p>Hello {{ first_name }}</p>")
    return api.post(f"/api/records/{record}/{record_id}/emails", json=body)


def logged_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(LoggedEmail))


def test_send_now_goes_through_the_outbox_and_is_logged_once_sent(app, client, relay, runner):
    org, alice, company, bob = world()
    api = ApiClient(client, alice)
    response = send(api, "contact", bob.id, to=["bob@customer.test"],
                    subject="Offer for {{ company }}")  # fmt: skip
    assert response.status_code == 202, response.json
    assert response.json["logged_when_sent"] and not response.json["scheduled"]
    assert response.json["purpose"] == "commercial" and response.json["transport"] == "smtp"
    start = runner(app)
    wait_until(lambda: logged_count() == 1, 30, "the sent email to be logged", poll=0.05)
    assert start.wait_idle(timeout=30)
    [received] = relay.messages
    message = email.message_from_bytes(received.data, policy=default_policy)
    assert message["Subject"] == "Offer for Customer Ltd"
    assert message["From"].addresses[0].addr_spec == "sales@acme.test"
    assert message["Reply-To"].addresses[0].addr_spec == "alice@acme.test"
    assert "Hello Bob" in message.get_body(("html",)).get_content()
    logged = db.session.scalars(select(LoggedEmail)).one()
    assert f"<{logged.message_id}>" == message["Message-ID"]
    assert logged.subject == "Offer for Customer Ltd" and logged.logged_by_id == alice.id
    assert {(a.record_type, a.record_id) for a in logged.associations} >= {
        ("contact", bob.id), ("company", company.id)}  # fmt: skip


def test_to_must_be_one_of_the_records_addresses(app, client):
    org, alice, company, bob = world()
    make_contact(org, "eve@other.test")
    api = ApiClient(client, alice)
    refused = send(api, "contact", bob.id, to=["eve@other.test"])
    assert refused.status_code == 422 and refused.json["error"]["field"] == "to"
    # a company offers its contacts' addresses; both of Bob's go in one message
    sent = send(api, "company", company.id, to=["bob@customer.test", "BOB.home@mail.test"])
    assert sent.status_code == 202, sent.json
    queued = rows()
    assert [r.recipient for r in queued] == ["bob@customer.test", "bob.home@mail.test"]
    assert len({r.content["log"]["message_id"] for r in queued}) == 1
    assert len({r.group_key for r in queued}) == 1 and queued[0].group_key.startswith("one:l:")


def test_scheduled_in_the_users_time_zone_and_never_in_the_past(app, client):
    org, alice, company, bob = world()
    alice.time_zone = "Europe/Paris"
    db.session.commit()
    api = ApiClient(client, alice)
    local = send(api, "contact", bob.id, to=["bob@customer.test"], send_at="2030-06-01T09:00:00")
    assert local.status_code == 202 and local.json["scheduled"]
    aware = send(api, "contact", bob.id, to=["bob@customer.test"],
                 send_at="2030-01-15T09:00:00-05:00")  # fmt: skip
    assert aware.status_code == 202
    first, second = rows()
    assert first.next_attempt_at == datetime(2030, 6, 1, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert second.next_attempt_at == datetime(2030, 1, 15, 14, 0, tzinfo=UTC)
    past = (utcnow() - timedelta(hours=3)).isoformat()
    late = send(api, "contact", bob.id, to=["bob@customer.test"], send_at=past)
    assert late.status_code == 422 and late.json["error"]["field"] == "send_at"


def test_gate_refusal_is_a_409_naming_recipients_and_options(app, client):
    org, alice, company, bob = world(privacy=True)
    response = send(ApiClient(client, alice), "contact", bob.id, to=["bob@customer.test"])
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "consent_required" and error["field"] == "recipients"
    assert error["recipients"]["bob@customer.test"]["options"] == ["subscription", "one_time"]
    assert rows() == []


def test_a_ticket_send_is_transactional_and_passes_without_a_basis(app, client):
    org, alice, company, bob = world(privacy=True)
    ticket = make_ticket(org, subject="Broken widget")
    associate(org, bob, ticket)
    response = send(ApiClient(client, alice), "ticket", ticket.id, to=["bob@customer.test"])
    assert response.status_code == 202, response.json
    assert response.json["purpose"] == "transactional"
    [row] = rows()
    assert row.content["consent"] == {"purpose": "transactional",
                                      "origin": {"type": "ticket", "id": ticket.id}}  # fmt: skip
    assert {"type": "ticket", "id": ticket.id} in row.content["log"]["associations"]


def test_from_a_connected_mailbox_and_not_someone_elses(app, client):
    org, alice, company, bob = world()
    colleague = make_user(org)
    mine = ConnectedMailbox(org_id=org.id, user_id=alice.id, provider="google", account_id="g1",
                            address="alice@gmail.test")  # fmt: skip
    theirs = ConnectedMailbox(org_id=org.id, user_id=colleague.id, provider="microsoft",
                              account_id="m1", address="col@acme.test")  # fmt: skip
    db.session.add_all([mine, theirs])
    db.session.commit()
    api = ApiClient(client, alice)
    ok = send(api, "contact", bob.id, to=["bob@customer.test"], from_mailbox_id=mine.id,
              track=False)  # fmt: skip
    assert ok.status_code == 202 and ok.json["transport"] == "gmail"
    [row] = rows()
    assert (row.mailbox_id, row.envelope_from) == (mine.id, "alice@gmail.test")
    assert row.content["track"] is False and row.content["reply_to"] == []
    other = send(api, "contact", bob.id, to=["bob@customer.test"], from_mailbox_id=theirs.id)
    assert other.status_code == 404


def test_log_setting_off_sends_without_logging(app, client):
    org, alice, company, bob = world()
    set_user_settings(alice, {"log_by_default": False})
    response = send(ApiClient(client, alice), "contact", bob.id, to=["bob@customer.test"],
                    text="plain {{ last_name }}", html=None)  # fmt: skip
    assert response.status_code == 202 and not response.json["logged_when_sent"]
    [row] = rows()
    assert "log" not in row.content and row.group_key.startswith("one:n:")
    assert row.content["text"] == "plain Stone"


def test_another_orgs_record_is_404_and_a_broken_template_422(app, client):
    org, alice, company, bob = world()
    theirs = make_contact(make_org(), "x@other.test")
    api = ApiClient(client, alice)
    assert send(api, "contact", theirs.id, to=["x@other.test"]).status_code == 404
    broken = send(api, "contact", bob.id, to=["bob@customer.test"], html="{{ ''.__class__ }}")
    assert broken.status_code == 422


def test_a_deal_offers_its_associated_contacts_addresses(app, client):
    from tests.factories import make_deal

    org, alice, company, bob = world()
    deal = make_deal(org, name="Big one")
    stranger = make_contact(org, "sam@customer.test")
    associate(org, bob, deal)
    api = ApiClient(client, alice)
    assert send(api, "deal", deal.id, to=["sam@customer.test"]).status_code == 422
    ok = send(api, "deal", deal.id, to=["bob.home@mail.test"], cc=["bob@customer.test"])
    assert ok.status_code == 202, ok.json
    first = rows()[0]
    assert [p["email"] for p in first.content["cc"]] == ["bob@customer.test"]
    assert {"type": "deal", "id": deal.id} in first.content["log"]["associations"]
    assert stranger.id


def test_without_a_relay_the_org_address_is_refused_when_queued_not_after(app, client, monkeypatch):
    """ONE-1: no LIAISON_SMTP_HOST means the org address cannot send; the rep hears it at once
    (503 naming the From field) instead of a 202 whose row fails later, out of sight."""
    org, alice, company, bob = world()
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    response = send(ApiClient(client, alice), "contact", bob.id, to=["bob@customer.test"],
                    subject="Hi")  # fmt: skip
    assert response.status_code == 503
    assert response.json["error"]["field"] == "from_mailbox_id"
    assert "LIAISON_SMTP_HOST" in response.json["error"]["message"]
    assert rows() == []
