"""Reply, reply-all and forward from the CRM (LOG-9, LOG-8): In-Reply-To / References from the
logged email, one "Re:" / "Fwd:", recipients, the consent gate, and the sent message logged to the
same thread, where a forward shows as "Fwd: ..."."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default as default_policy

from sqlalchemy import select

from server.emails.replies import prefixed
from server.emails.send_tasks import log_sent
from server.emails.service import log_email
from server.extensions import db
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from server.orgs.settings import set_org_settings
from tests.factories import ApiClient, make_company, make_contact, make_org, make_ticket, make_user


def world():
    org = make_org(domain="acme.test", org_address="sales@acme.test")
    alice = make_user(org, email="alice@acme.test", name="Alice Rep")
    company = make_company(org, domains=["customer.test"])
    bob = make_contact(org, "bob@customer.test", company=company, first_name="Bob")
    carol = make_contact(org, "carol@customer.test", company=company)
    return org, alice, company, bob, carol


def incoming(user, subject="Offer", references=(), in_reply_to=None, message_id="<in1@x.test>"):
    return log_email(
        user,
        structured={
            "message_id": message_id,
            "subject": subject,
            "from": {"email": "bob@customer.test", "name": "Bob"},
            "to": [{"email": "alice@acme.test", "name": ""}],
            "cc": [{"email": "carol@customer.test", "name": ""}],
            "sent_at": datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            "references": list(references),
            "in_reply_to": in_reply_to,
            "text": "Can you do 10% off?",
        },
        direction="in",
    ).email


def sent_message(relay, recipient: str):
    found = [m for m in relay.messages if recipient in m.recipients]
    assert found, [m.recipients for m in relay.messages]
    return email.message_from_bytes(found[-1].data, policy=default_policy)


def test_subject_prefixes_do_not_stack():
    assert prefixed("Re", "Offer") == "Re: Offer"
    assert prefixed("Re", "Re: Offer") == "Re: Offer"
    assert prefixed("Re", "RE:Offer") == "RE:Offer"
    assert prefixed("Fwd", "Fw: Offer") == "Fw: Offer"
    assert prefixed("Fwd", "Re: Offer") == "Fwd: Re: Offer"


def test_reply_threads_on_the_logged_email_and_is_logged_to_its_thread(app, client, relay):
    org, alice, company, bob, carol = world()
    parent = incoming(alice, references=["<root@customer.test>", "<mid@acme.test>"],
                      in_reply_to="<mid@acme.test>")  # fmt: skip
    api = ApiClient(client, alice)
    response = api.post(f"/api/emails/{parent.id}/reply",
                        json={"mode": "reply", "text": "Yes, 10% is fine."})  # fmt: skip
    assert response.status_code == 202, response.json
    [row] = db.session.scalars(select(OutboxMessage)).all()
    assert row.recipient == "bob@customer.test"
    send_due()
    message = sent_message(relay, "bob@customer.test")
    assert message["Subject"] == "Re: Offer"
    assert message["In-Reply-To"] == "<in1@x.test>"
    assert message["References"].split() == [
        "<root@customer.test>", "<mid@acme.test>", "<in1@x.test>"]  # fmt: skip
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Yes, 10% is fine.") and "> Can you do 10% off?" in body
    assert log_sent(row.id) == "logged"
    thread = api.get(f"/api/emails/{parent.id}/thread").json["items"]
    assert [t["subject"] for t in thread] == ["Offer", "Re: Offer"]


def test_reply_without_references_uses_the_parents_in_reply_to():
    from server.emails.models import LoggedEmail
    from server.emails.replies import thread_headers

    parent = LoggedEmail(message_id="b@x", reference_ids=[], in_reply_to="a@x")
    assert thread_headers(parent) == ("<b@x>", ["<a@x>", "<b@x>"])
    alone = LoggedEmail(message_id="c@x", reference_ids=[], in_reply_to=None)
    assert thread_headers(alone) == ("<c@x>", ["<c@x>"])


def test_reply_all_adds_to_and_cc_but_not_me(app, client, relay):
    org, alice, company, bob, carol = world()
    parent = incoming(alice, subject="Re: Offer")
    response = ApiClient(client, alice).post(
        f"/api/emails/{parent.id}/reply", json={"mode": "reply_all", "html": "<p>Sure</p>"}
    )
    assert response.status_code == 202, response.json
    queued = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.recipient for r in queued] == ["bob@customer.test", "carol@customer.test"]
    content = queued[0].content
    assert [p["email"] for p in content["to"]] == ["bob@customer.test"]
    assert [p["email"] for p in content["cc"]] == ["carol@customer.test"]
    assert content["subject"] == "Re: Offer"  # not "Re: Re: Offer"
    assert {(a["type"], a["id"]) for a in content["log"]["associations"]} == {
        (a.record_type, a.record_id) for a in parent.associations}  # fmt: skip


def test_forward_quotes_the_original_and_shows_as_fwd_on_the_timeline(app, client, relay):
    org, alice, company, bob, carol = world()
    parent = incoming(alice)
    api = ApiClient(client, alice)
    missing = api.post(f"/api/emails/{parent.id}/reply", json={"mode": "forward", "text": "FYI"})
    assert missing.status_code == 422 and missing.json["error"]["field"] == "to"
    forward = {"mode": "forward", "to": ["dana@partner.test"], "text": "FYI"}
    response = api.post(f"/api/emails/{parent.id}/reply", json=forward)
    assert response.status_code == 202, response.json
    send_due()
    message = sent_message(relay, "dana@partner.test")
    assert message["Subject"] == "Fwd: Offer"
    assert message["In-Reply-To"] == "<in1@x.test>"
    text = message.get_body(("plain",)).get_content()
    assert "---------- Forwarded message ----------" in text and "Can you do 10% off?" in text
    [row] = db.session.scalars(select(OutboxMessage)).all()
    log_sent(row.id)
    timeline = api.get(f"/api/records/contact/{bob.id}/timeline").json["items"]
    assert [i["data"]["subject"] for i in timeline][:2] == ["Fwd: Offer", "Offer"]


def test_reply_goes_through_the_consent_gate(app, client):
    org, alice, company, bob, carol = world()
    parent = incoming(alice)
    set_org_settings(None, {"data_privacy": True}, org_id=org.id)
    api = ApiClient(client, alice)
    refused = api.post(f"/api/emails/{parent.id}/reply", json={"mode": "reply", "text": "ok"})
    assert refused.status_code == 409
    assert "bob@customer.test" in refused.json["error"]["recipients"]
    assert db.session.scalars(select(OutboxMessage)).all() == []
    ticket = make_ticket(org)
    api.patch(f"/api/emails/{parent.id}/associations",
              json={"add": [{"type": "ticket", "id": ticket.id}]})  # fmt: skip
    allowed = api.post(f"/api/emails/{parent.id}/reply",
                       json={"mode": "reply", "text": "ok", "ticket_id": ticket.id})  # fmt: skip
    assert allowed.status_code == 202 and allowed.json["purpose"] == "transactional"


def test_a_deleted_or_foreign_email_cannot_be_replied_to(app, client):
    org, alice, company, bob, carol = world()
    parent = incoming(alice)
    api = ApiClient(client, alice)
    assert api.delete(f"/api/emails/{parent.id}").status_code == 204
    assert api.post(f"/api/emails/{parent.id}/reply", json={"mode": "reply"}).status_code == 404
    other_org = make_org()
    stranger = make_user(other_org)
    theirs = incoming(stranger, message_id="<t@x.test>")
    assert api.post(f"/api/emails/{theirs.id}/reply", json={"mode": "reply"}).status_code == 404


def test_forward_names_and_hands_over_the_stored_attachments(app, client):
    org, alice, company, bob, carol = world()
    parent = log_email(
        alice,
        structured={
            "message_id": "<files@x.test>",
            "subject": "Quote",
            "from": {"email": "bob@customer.test", "name": "Bob"},
            "to": [{"email": "alice@acme.test", "name": ""}],
            "text": "See attached.",
            "attachments": [
                {
                    "filename": "quote.pdf",
                    "content_type": "application/pdf",
                    "content": b"%PDF-1.4 quote",
                }
            ],
        },  # fmt: skip
        direction="in",
    ).email
    api = ApiClient(client, alice)
    forward = {"mode": "forward", "to": ["dana@partner.test"], "text": "FYI"}
    assert api.post(f"/api/emails/{parent.id}/reply", json=forward).status_code == 202
    [row] = db.session.scalars(select(OutboxMessage)).all()
    [attached] = row.content["attachments"]
    assert attached["filename"] == "quote.pdf" and len(attached["blob_key"]) == 64
    assert "Attachments: quote.pdf" in row.content["text"]


def test_replying_to_my_own_email_goes_to_its_recipients_not_me(app, client):
    from server.mail.mailbox_models import ConnectedMailbox

    org, alice, company, bob, carol = world()
    db.session.add(ConnectedMailbox(org_id=org.id, user_id=alice.id, provider="google",
                                    account_id="g", address="alice@gmail.test"))  # fmt: skip
    db.session.commit()
    mine = log_email(
        alice,
        structured={
            "message_id": "<out1@acme.test>",
            "subject": "Proposal",
            "from": {"email": "alice@acme.test", "name": "Alice"},
            "to": [{"email": "bob@customer.test", "name": "Bob"}],
            "cc": [
                {"email": "alice@gmail.test", "name": ""},
                {"email": "carol@customer.test", "name": ""},
            ],
            "text": "Here it is.",
        },  # fmt: skip
    ).email
    api = ApiClient(client, alice)
    assert api.post(f"/api/emails/{mine.id}/reply", json={"mode": "reply_all"}).status_code == 202
    [first, second] = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert (first.recipient, second.recipient) == ("bob@customer.test", "carol@customer.test")
    assert first.content["subject"] == "Re: Proposal"
    assert first.content["to"] == [{"email": "bob@customer.test", "name": "Bob"}]
