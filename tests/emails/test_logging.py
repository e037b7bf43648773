"""log_email and the API: one row per message per org, associations, contacts (LOG-1, LOG-3..5)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.emails.models import LoggedEmail, LoggedEmailAssociation
from server.emails.service import log_email
from server.errors import ValidationFailed
from server.extensions import db
from server.orgs.settings import set_org_settings
from server.records.models import Contact, ContactEmail
from tests.emails.conftest import b64, sample
from tests.factories import (
    ApiClient,
    associate,
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_ticket,
    make_user,
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def pairs(email: LoggedEmail) -> set[tuple[str, int]]:
    return {(a.record_type, a.record_id) for a in email.associations}


def world():
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    company = make_company(org, domains=["customer.test"])
    bob = make_contact(org, "bob@customer.test", company=company)
    deals = [make_deal(org, name=f"Deal {i}") for i in range(4)]
    closed = make_deal(org, name="Closed", is_closed=True)
    ticket = make_ticket(org)
    for record in [*deals, closed, ticket]:
        associate(org, bob, record)
    return org, alice, company, bob, deals, ticket


def test_every_corpus_message_logs_through_the_api(app, client):
    org = make_org(domain="acme.test")
    api = ApiClient(client, make_user(org, email="alice@acme.test"))
    names = sorted(p.name for p in (sample.__globals__["DATA"]).glob("*.eml"))
    for name in names:
        response = api.post("/api/emails/log", json={"raw": b64(sample(name)), "source": "api"})
        assert response.status_code == 200, (name, response.json)
        assert response.json["status"] == "logged", (name, response.json)
    assert count(LoggedEmail) == len(names)


def test_default_associations_follow_the_settings(app):
    org, alice, company, bob, deals, ticket = world()
    result = log_email(alice, raw=sample("mixed_attachments.eml"))
    assert result.status == "logged" and result.email.direction == "out"
    got = pairs(result.email)
    assert ("contact", bob.id) in got and ("company", company.id) in got
    assert ("ticket", ticket.id) in got
    assert len([p for p in got if p[0] == "deal"]) == 3  # the first three open deals only
    set_org_settings(None, {"default_association_types": ["contact"]}, org_id=org.id)
    again = log_email(alice, raw=sample("calendar_invite.eml"), create_contacts=False)
    assert pairs(again.email) == {("contact", bob.id)}


def test_incoming_mail_associates_the_sender(app):
    org, alice, company, bob, deals, ticket = world()
    result = log_email(alice, raw=sample("nested_alternative.eml"), source="outlook")
    assert result.email.direction == "in"
    assert ("contact", bob.id) in pairs(result.email)


def test_one_row_per_message_later_deliveries_add_associations(app, client):
    org, alice, company, bob, deals, ticket = world()
    colleague = make_user(org, email="carl@acme.test")
    raw = sample("mixed_attachments.eml")
    first = log_email(alice, raw=raw, associations=[{"type": "contact", "id": bob.id}],
                      source="bcc")  # fmt: skip
    second = log_email(colleague, raw=raw, associations=[{"type": "deal", "id": deals[0].id}],
                       source="gmail", direction="out")  # fmt: skip
    api = ApiClient(client, alice)
    third = api.post("/api/emails/log", json={"raw": b64(raw), "source": "outlook",
                     "associations": [{"type": "ticket", "id": ticket.id}]})  # fmt: skip
    assert (first.status, second.status) == ("logged", "already_logged")
    assert third.json["status"] == "already_logged"
    assert count(LoggedEmail) == 1
    row = db.session.get(LoggedEmail, first.email.id)
    assert pairs(row) == {("contact", bob.id), ("deal", deals[0].id), ("ticket", ticket.id)}
    assert row.source == "bcc" and row.logged_by_id == alice.id
    assert {a.source for a in row.associations} == {"bcc", "gmail", "outlook"}


def test_same_message_in_two_orgs_is_two_rows(app):
    raw = sample("latin1.eml")
    for _ in range(2):
        org = make_org()
        log_email(make_user(org, email="alice@acme.test"), raw=raw, create_contacts=False)
    assert count(LoggedEmail) == 2


def test_missing_message_id_dedupes_on_the_derived_key(app):
    org = make_org()
    alice = make_user(org, email="alice@acme.test")
    raw = sample("no_message_id.eml")
    first, second = log_email(alice, raw=raw), log_email(alice, raw=raw)
    assert first.email.id == second.email.id and first.email.message_key.startswith("sha256:")


def test_explicit_associations_are_exactly_those_and_checked(app, client):
    org, alice, company, bob, deals, ticket = world()
    other_org = make_org()
    foreign = make_deal(other_org)
    api = ApiClient(client, alice)
    raw = b64(sample("mixed_attachments.eml"))
    bad = api.post("/api/emails/log", json={"raw": raw, "associations": [
        {"type": "deal", "id": foreign.id}]})  # fmt: skip
    assert bad.status_code == 404 and bad.json["error"]["field"] == "associations.0.id"
    missing = api.post("/api/emails/log", json={"raw": raw, "associations": [
        {"type": "ticket", "id": 999999}]})  # fmt: skip
    assert missing.status_code == 404
    assert count(LoggedEmail) == 0
    ok = api.post("/api/emails/log", json={"raw": raw, "associations": [
        {"type": "deal", "id": deals[2].id}]})  # fmt: skip
    assert ok.status_code == 200
    assert [(a["type"], a["id"]) for a in ok.json["email"]["associations"]] == [
        ("deal", deals[2].id)
    ]


def test_structured_email_and_get(app, client):
    org, alice, company, bob, deals, ticket = world()
    api = ApiClient(client, alice)
    body = {"source": "outlook", "email": {
        "message_id": "<Struct-1@ACME.test>", "subject": "Hello",
        "from": {"email": "alice@acme.test", "name": "Alice"},
        "to": [{"email": "bob@customer.test"}], "html": "<p>Hi</p>",
        "sent_at": "2026-11-20T10:00:00Z"}}  # fmt: skip
    logged = api.post("/api/emails/log", json=body)
    assert logged.status_code == 200, logged.json
    email_id = logged.json["email"]["id"]
    got = api.get(f"/api/emails/{email_id}")
    assert got.status_code == 200
    assert got.json["message_key"] == "mid:Struct-1@acme.test"
    assert got.json["from"]["email"] == "alice@acme.test" and got.json["direction"] == "out"
    stranger = ApiClient(client, make_user(make_org()))
    assert stranger.get(f"/api/emails/{email_id}").status_code == 404
    neither = api.post("/api/emails/log", json={"source": "api"})
    assert neither.status_code == 422


def test_patch_associations(app, client):
    org, alice, company, bob, deals, ticket = world()
    email = log_email(alice, raw=sample("mixed_attachments.eml"),
                      associations=[{"type": "contact", "id": bob.id}]).email  # fmt: skip
    api = ApiClient(client, alice)
    url = f"/api/emails/{email.id}/associations"
    response = api.patch(url, json={"add": [{"type": "deal", "id": deals[1].id}],
                                    "remove": [{"type": "contact", "id": bob.id}]})  # fmt: skip
    assert response.status_code == 200
    assert [(a["type"], a["id"]) for a in response.json["associations"]] == [("deal", deals[1].id)]
    foreign = make_deal(make_org())
    bad = api.patch(url, json={"add": [{"type": "deal", "id": foreign.id}]})
    assert bad.status_code == 404
    assert count(LoggedEmailAssociation) == 1


def test_preview_returns_candidates_with_ticks(app, client):
    org, alice, company, bob, deals, ticket = world()
    set_org_settings(None, {"default_association_types": ["contact", "company"]}, org_id=org.id)
    api = ApiClient(client, alice)
    response = api.post("/api/emails/associations/preview", json={
        "addresses": ["bob@customer.test", "new@prospect.test", "alice@acme.test"],
        "direction": "out"})  # fmt: skip
    assert response.status_code == 200, response.json
    ticks = {(r["type"], r["id"]): r["checked"] for r in response.json["records"]}
    assert ticks[("contact", bob.id)] and ticks[("company", company.id)]
    assert ticks[("ticket", ticket.id)] is False
    assert len([k for k in ticks if k[0] == "deal"]) == 3
    assert response.json["new_contacts"] == [
        {"email": "new@prospect.test", "name": "", "checked": True}
    ]
    assert count(LoggedEmail) == 0 and count(Contact) == 1


def test_unknown_recipients_become_contacts(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    result = log_email(alice, raw=sample("calendar_invite.eml"))
    assert len(result.created_contact_ids) == 2
    contacts = db.session.scalars(select(Contact)).all()
    assert {c.owner_id for c in contacts} == {alice.id}
    assert not any(c.is_marketing for c in contacts)
    assert {("contact", c.id) for c in contacts} == pairs(result.email)
    addresses = set(db.session.scalars(select(ContactEmail.email_normalized)))
    assert addresses == {"bob@customer.test", "carol@client.test"}
    named = log_email(alice, raw=sample("latin1.eml"))
    francois = db.session.get(Contact, named.created_contact_ids[0])
    assert (francois.first_name, francois.last_name) == ("François", "Müller")


def test_existing_contact_keeps_its_owner(app):
    org = make_org(domain="acme.test")
    alice, owner = make_user(org, email="alice@acme.test"), make_user(org)
    bob = make_contact(org, "BOB@customer.test", owner=owner)
    result = log_email(alice, raw=sample("calendar_invite.eml"))
    assert db.session.get(Contact, bob.id).owner_id == owner.id
    assert len(result.created_contact_ids) == 1


def test_unticked_or_disabled_creation_makes_no_contact(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    raw = sample("calendar_invite.eml")
    log_email(alice, raw=raw, create_contacts=["carol@client.test"])
    assert set(db.session.scalars(select(ContactEmail.email_normalized))) == {"carol@client.test"}
    log_email(alice, raw=sample("mixed_attachments.eml"), create_contacts=False)
    assert count(Contact) == 1
    set_org_settings(None, {"create_contacts_for_unknown": False}, org_id=org.id)
    result = log_email(alice, raw=sample("forwarded_rfc822.eml"), create_contacts=True)
    assert result.status == "logged" and result.created_contact_ids == []
    assert count(Contact) == 1


def test_bad_raw_and_source_are_422(app, client):
    api = ApiClient(client, make_user(make_org()))
    assert api.post("/api/emails/log", json={"raw": "%%%"}).status_code == 422
    bad_source = api.post("/api/emails/log", json={"raw": b64(b"x"), "source": "fax"})
    assert bad_source.status_code == 422
    no_from = api.post("/api/emails/log", json={"raw": b64(b"Subject: x\r\n\r\nbody")})
    assert no_from.status_code == 422 and no_from.json["error"]["field"] == "from"


def test_service_checks_explicit_associations(app):
    org, alice, company, bob, deals, ticket = world()
    with pytest.raises(ValidationFailed) as caught:
        log_email(alice, raw=sample("mixed_attachments.eml"), associations=[{"type": "deal"}])
    assert caught.value.field == "associations.0.id"
    with pytest.raises(ValidationFailed):
        log_email(alice, raw=sample("mixed_attachments.eml"), associations=[{"type": "x", "id": 1}])
    assert count(LoggedEmail) == 0
