"""One-to-one send with a template (ONE-1, BULK-2): `template_id` instead of subject and body,
rendered at queue time for each recipient with their own contact, sent through the outbox to
the SMTP sink and logged once."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest
from sqlalchemy import func, select

from server import jobs
from server.emails.models import LoggedEmail
from server.extensions import db
from server.mail.models import OutboxMessage
from tests.factories import (
    ApiClient,
    associate,
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_user,
)
from tests.workers import wait_until

HTML = '<p>Dear {{ first_name | default("friend") }} of {{ company | default("you") }},</p>'


@pytest.fixture
def runner(app):
    yield jobs.start_inline_runner
    existing = app.extensions.pop("inline_runner", None)
    if existing is not None:
        existing.stop()


def world():
    org = make_org(domain="acme.test", org_address="sales@acme.test")
    alice = make_user(org, email="alice@acme.test", name="Alice Rep")
    company = make_company(org, name="Customer Ltd")
    bob = make_contact(org, "bob@customer.test", company=company, first_name="Bob")
    eve = make_contact(org, "eve@customer.test")  # no first name, no company: fallbacks
    deal = make_deal(org, name="Big one")
    associate(org, bob, deal)
    associate(org, eve, deal)
    return org, alice, bob, eve, deal


def template(api, **body) -> int:
    body = {"name": "Offer", "subject": "Offer for {{ first_name | default('you') }}",
            "html": HTML, **body}  # fmt: skip
    response = api.post("/api/templates", json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def logged_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(LoggedEmail))


def test_a_template_is_rendered_for_each_recipient_and_sent_through_the_sink(
    app, client, relay, runner
):
    org, alice, bob, eve, deal = world()
    api = ApiClient(client, alice)
    template_id = template(api)

    response = api.post(f"/api/records/deal/{deal.id}/emails",
                        json={"template_id": template_id, "to": ["bob@customer.test"],
                              "cc": ["eve@customer.test"]})  # fmt: skip

    assert response.status_code == 202, response.json
    start = runner(app)
    wait_until(lambda: logged_count() == 1, 30, "the sent email to be logged", poll=0.05)
    assert start.wait_idle(timeout=30)
    by_recipient = {}
    for received in relay.messages:
        message = email.message_from_bytes(received.data, policy=default_policy)
        by_recipient[tuple(received.recipients)] = message
    to_bob = by_recipient[("bob@customer.test",)]
    to_eve = by_recipient[("eve@customer.test",)]
    assert to_bob["Subject"] == "Offer for Bob"
    assert "Dear Bob of Customer Ltd," in to_bob.get_body(("html",)).get_content()
    assert "Dear Bob of Customer Ltd," in to_bob.get_body(("plain",)).get_content()
    assert to_eve["Subject"] == "Offer for you"
    assert "Dear friend of you," in to_eve.get_body(("html",)).get_content()
    assert (
        to_bob["To"] == to_eve["To"] and to_eve["Cc"].addresses[0].addr_spec == "eve@customer.test"
    )
    logged = db.session.scalars(select(LoggedEmail)).one()
    assert logged.subject in {"Offer for Bob", "Offer for you"}


def test_a_template_with_a_body_as_well_is_a_422_and_nothing_is_queued(app, client):
    org, alice, bob, eve, deal = world()
    api = ApiClient(client, alice)
    template_id = template(api)
    url = f"/api/records/contact/{bob.id}/emails"
    both = api.post(url, json={"template_id": template_id, "to": ["bob@customer.test"],
                               "html": "<p>Hi</p>"})  # fmt: skip
    assert both.status_code == 422 and both.json["error"]["field"] == "html"
    subject = api.post(url, json={"template_id": template_id, "to": ["bob@customer.test"],
                                  "subject": "Also this"})  # fmt: skip
    assert subject.status_code == 422 and subject.json["error"]["field"] == "subject"
    neither = api.post(url, json={"to": ["bob@customer.test"]})
    assert neither.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_template_the_sender_cannot_see_is_404(app, client):
    org, alice, bob, eve, deal = world()
    colleague = make_user(org)
    private = template(ApiClient(client, colleague), name="Private")
    response = ApiClient(client, alice).post(f"/api/records/contact/{bob.id}/emails",
                                             json={"template_id": private,
                                                   "to": ["bob@customer.test"]})  # fmt: skip
    assert response.status_code == 404 and response.json["error"]["field"] == "template_id"


def test_a_shared_template_is_queued_with_its_text_part_and_the_record_logged(app, client):
    org, alice, bob, eve, deal = world()
    colleague = make_user(org)
    shared = template(ApiClient(client, colleague), name="Shared", shared=True,
                      text="Hi {{ first_name }}, plain.")  # fmt: skip
    response = ApiClient(client, alice).post(f"/api/records/contact/{bob.id}/emails",
                                             json={"template_id": shared,
                                                   "to": ["bob@customer.test"]})  # fmt: skip
    assert response.status_code == 202, response.json
    [row] = db.session.scalars(select(OutboxMessage)).all()
    assert row.content["subject"] == "Offer for Bob" and row.content["text"] == "Hi Bob, plain."
    assert {"type": "contact", "id": bob.id} in row.content["log"]["associations"]
