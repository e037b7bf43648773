"""Send intents (LOG-1, LOG-4, LOG-5): the rep's choices travel with the message, signed."""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from server.emails.models import EmailIntent, LoggedEmail
from server.extensions import db
from server.mail.inbound import route_inbound
from server.mail.inbound_addresses import logging_address
from server.records.models import Contact
from tests.emails.conftest import b64, sample
from tests.factories import ApiClient, make_contact, make_deal, make_org, make_user


def with_header(raw: bytes, value: str) -> bytes:
    return raw.replace(b"Subject:", b"X-Liaison-Intent: " + value.encode() + b"\r\nSubject:", 1)


def setup():
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    deal = make_deal(org, name="Big deal")
    return org, alice, deal


def pairs(email_id: int) -> set[tuple[str, int]]:
    email = db.session.get(LoggedEmail, email_id)
    db.session.refresh(email)
    return {(a.record_type, a.record_id) for a in email.associations}


def test_an_intent_applies_to_the_bcc_copy(app, client):
    """The add-in posts the ticks, adds the header; the BCC copy is logged with those choices."""
    org, alice, deal = setup()
    api = ApiClient(client, alice)
    made = api.post(
        "/api/emails/intents",
        json={
            "associations": [{"type": "deal", "id": deal.id}],
            "create_contacts": False,
            "privacy": "subject",
            "track": True,
        },
    )
    assert made.status_code == 201, made.json
    header = made.json["header"]
    assert header["name"] == "X-Liaison-Intent" and made.json["track"] is True
    payload = header["value"].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == (
        db.session.get(EmailIntent, made.json["intent_id"]).nonce  # no ids go to customers
    )
    raw = with_header(sample("calendar_invite.eml"), header["value"])
    result = route_inbound(raw, [logging_address(alice.id)], "smtp")
    assert result.status == "routed", result.reason
    email = db.session.scalars(select(LoggedEmail)).one()
    assert pairs(email.id) == {("deal", deal.id)}  # exactly the ticks, no default contacts
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0  # unticked
    assert (email.privacy, email.intent_id) == ("subject", made.json["intent_id"])


def test_an_intent_applies_to_a_structured_api_log_and_explicit_choices_win(app, client):
    org, alice, deal = setup()
    bob = make_contact(org, "bob@customer.test")
    api = ApiClient(client, alice)
    made = api.post(
        "/api/emails/intents",
        json={"associations": [{"type": "deal", "id": deal.id}], "privacy": "metadata"},
    ).json
    structured = {
        "message_id": "<i1@acme.test>",
        "subject": "Hi",
        "text": "x",
        "from": {"email": "alice@acme.test"},
        "to": [{"email": "bob@customer.test"}],
    }
    logged = api.post(
        "/api/emails/log",
        json={
            "email": structured,
            "source": "outlook",
            "intent": made["header"]["value"],
            "privacy": "full",
        },
    )
    assert logged.status_code == 200, logged.json
    assert logged.json["email"]["privacy"] == "full"  # given explicitly: the call wins
    assert pairs(logged.json["email"]["id"]) == {("deal", deal.id)}
    explicit = {**structured, "message_id": "<i2@acme.test>"}
    second = api.post(
        "/api/emails/log",
        json={
            "email": explicit,
            "intent": made["header"]["value"],
            "associations": [{"type": "contact", "id": bob.id}],
        },
    )
    assert pairs(second.json["email"]["id"]) == {("contact", bob.id)}
    assert second.json["email"]["privacy"] == "metadata"


def test_forged_foreign_and_other_users_headers_are_ignored(app, client):
    """A header not signed by us, of another org or another user changes nothing."""
    org, alice, deal = setup()
    carol = make_user(org, email="carol@acme.test")
    other_org = make_org(name="Other", domain="other.test")
    mallory = make_user(other_org, email="mallory@other.test")
    foreign = ApiClient(client, mallory).post("/api/emails/intents", json={"privacy": "metadata"})
    carols = ApiClient(client, carol).post("/api/emails/intents", json={"privacy": "metadata"})
    genuine = ApiClient(client, alice).post("/api/emails/intents", json={"privacy": "metadata"})
    value = genuine.json["header"]["value"]
    forged = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    headers = [forged, "garbage", foreign.json["header"]["value"], carols.json["header"]["value"]]
    for i, header in enumerate(headers):
        raw = with_header(sample("mixed_attachments.eml"), header)
        raw = raw.replace(b"Message-ID: <", f"Message-ID: <f{i}-".encode())
        api = ApiClient(client, alice)
        logged = api.post("/api/emails/log", json={"raw": b64(raw)})
        assert logged.status_code == 200, logged.json
        email = db.session.get(LoggedEmail, logged.json["email"]["id"])
        assert (email.privacy, email.intent_id) == ("full", None), header
        assert ("contact", email.associations[0].record_id) in pairs(email.id)  # the defaults


def test_intent_input_is_checked(app, client):
    org, alice, deal = setup()
    api = ApiClient(client, alice)
    missing = api.post("/api/emails/intents", json={"associations": [{"type": "deal", "id": 999}]})
    assert missing.status_code == 404 and missing.json["error"]["field"] == "associations.0.id"
    bad = api.post("/api/emails/intents", json={"create_contacts": "yes"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "create_contacts"
    listed = api.post("/api/emails/intents", json={"create_contacts": ["new@customer.test"]})
    assert listed.status_code == 201 and listed.json["create_contacts"] == ["new@customer.test"]
    assert api.post("/api/emails/intents", json={"privacy": "none"}).status_code == 422


def test_a_record_deleted_since_the_intent_is_left_out(app, client):
    org, alice, deal = setup()
    keep = make_deal(org, name="Keep")
    api = ApiClient(client, alice)
    made = api.post(
        "/api/emails/intents",
        json={"associations": [{"type": "deal", "id": deal.id}, {"type": "deal", "id": keep.id}]},
    ).json
    db.session.delete(deal)
    db.session.commit()
    raw = with_header(sample("calendar_invite.eml"), made["header"]["value"])
    result = route_inbound(raw, [logging_address(alice.id)], "smtp")
    assert result.status == "routed", result.reason
    email = db.session.scalars(select(LoggedEmail)).one()
    deals = {p for p in pairs(email.id) if p[0] == "deal"}
    assert deals == {("deal", keep.id)}  # the deleted one is left out, not a dead letter
