"""Data subject rights (GDPR-8): export everything about a contact, erase it (admin, confirmed,
audited, one transaction), and afterwards nothing personal is left anywhere in the database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from server.consent import data_subject, service
from server.consent.models import ConsentAudit
from server.emails.models import LoggedEmail, LoggedEmailAssociation
from server.extensions import db
from server.mail import outbox
from server.mail.models import OutboxMessage
from server.records.models import Contact
from tests.factories import ApiClient, associate, make_contact, make_deal, make_org, make_user

NAME, ADDRESS, HOME = "Quartermaine", "zelda@client.example", "zq@home.example"


def _email(org, user, key, sender, to, cc=(), body="Hello", contact=None) -> LoggedEmail:
    row = LoggedEmail(
        org_id=org.id, message_key=key, thread_key=key, subject=f"About {key}",
        from_address={"name": "", "email": sender}, direction="out", source="api",
        to_addresses=[{"name": "", "email": a} for a in to],
        cc_addresses=[{"name": "", "email": a} for a in cc],
        logged_by_id=user.id, body_text=body,
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    if contact is not None:
        db.session.add(LoggedEmailAssociation(org_id=org.id, email_id=row.id, record_type="contact",
                                              record_id=contact.id, source="api"))  # fmt: skip
    db.session.commit()
    return row


@pytest.fixture
def world(app):
    org = make_org(domain="acme.example")
    admin = make_user(org, role="admin", email="admin@acme.example")
    rep = make_user(org, email="rep@acme.example")
    contact = make_contact(org, [ADDRESS, HOME], owner=rep, first_name="Zelda", last_name=NAME,
                           phone="+33 1 23 45 67 89")  # fmt: skip
    associate(org, contact, make_deal(org))
    service.grant_basis(org.id, rep.id, contact.id, "contract", f"Order of Zelda {NAME}", "web")
    service.give_one_time_basis(org.id, rep.id, contact.id, f"Invoice for {NAME}", "transactional",
                                "outlook")  # fmt: skip
    service.set_opt_out(org.id, rep.id, contact.id, True, "api")
    emails = {
        "only": _email(
            org, rep, "only", "rep@acme.example", [ADDRESS], body=f"Dear {NAME}", contact=contact
        ),  # fmt: skip
        "inbound": _email(org, rep, "inbound", HOME, ["rep@acme.example"], body="From home"),
        "shared": _email(
            org,
            rep,
            "shared",
            "rep@acme.example",
            [ADDRESS],
            cc=["bo@partner.example"],
            contact=contact,
        ),  # fmt: skip
        "other": _email(org, rep, "other", "rep@acme.example", ["bo@partner.example"]),
    }
    outbox.queue_message(org_id=org.id, recipient=ADDRESS, envelope_from="rep@acme.example",
                         content={"subject": f"Offer for {NAME}", "to": [{"email": ADDRESS}]},
                         message_id="<q1@acme.example>")  # fmt: skip
    db.session.commit()
    return {"org": org, "admin": admin, "rep": rep, "contact": contact, "emails": emails}


def _database_text() -> str:
    """Every row of every table, as one JSON text."""
    db.session.expire_all()
    dump = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table)).mappings().all()
        dump[table.name] = [{k: str(v) for k, v in row.items()} for row in rows]
    return json.dumps(dump, ensure_ascii=False).lower()


def test_export_then_erase_then_nothing_personal_is_left(app, client, world):
    contact, admin = world["contact"], ApiClient(client, world["admin"])
    res = admin.get(f"/api/contacts/{contact.id}/export")
    assert res.status_code == 200, res.get_data(True)
    assert "attachment" in res.headers["Content-Disposition"]
    parts = res.json["parts"]
    assert {"record", "emails", "consent", "outbox"} <= set(parts)
    assert parts["record"]["last_name"] == NAME and len(parts["record"]["addresses"]) == 2
    assert parts["record"]["owned_by"]["id"] == world["rep"].id
    assert [a["type"] for a in parts["record"]["associations"]] == ["deal"]
    assert sorted(e["subject"] for e in parts["emails"]) == [
        "About inbound", "About only", "About shared"]  # fmt: skip
    assert [b["basis"] for b in parts["consent"]["legal_bases"]] == ["contract"]
    assert parts["consent"]["opted_out_at"] and len(parts["consent"]["history"]) >= 3
    assert parts["outbox"][0]["subject"] == f"Offer for {NAME}"

    assert (
        ApiClient(client, world["rep"]).get(f"/api/contacts/{contact.id}/export").status_code == 403
    )
    wrong = admin.post(f"/api/contacts/{contact.id}/erase", json={"confirm": HOME})
    assert wrong.status_code == 422 and wrong.json["error"]["field"] == "confirm"
    assert db.session.get(Contact, contact.id) is not None

    res = admin.post(f"/api/contacts/{contact.id}/erase", json={"confirm": ADDRESS.upper()})
    assert res.status_code == 200, res.get_data(True)
    counts = res.json["counts"]
    assert counts["emails"] == {"emails_deleted": 2, "emails_scrubbed": 1, "unlinked": 1}
    assert counts["record"] == {"contacts": 1, "addresses": 2, "associations": 1}
    assert counts["outbox"] == {"outbox_anonymized": 1, "outbox_cancelled": 1}

    assert admin.get(f"/api/contacts/{contact.id}/export").status_code == 404
    everything = _database_text()
    for personal in (ADDRESS, HOME, NAME.lower(), "zelda", "+33 1 23"):
        assert personal not in everything, f"{personal!r} is still stored"
    shared = db.session.get(LoggedEmail, world["emails"]["shared"].id)
    assert shared.to_addresses == [] and shared.cc_addresses[0]["email"] == "bo@partner.example"
    assert db.session.get(LoggedEmail, world["emails"]["other"].id) is not None
    trail = db.session.scalars(select(ConsentAudit)).all()
    assert [(a.action, a.contact_id, a.actor_id) for a in trail] == [
        ("contact_erased", None, world["admin"].id)]  # fmt: skip
    assert trail[0].details["subject"] == f"erased contact #{contact.id}"


def test_a_failing_part_erases_nothing(app, world):
    org, contact = world["org"], world["contact"]
    before = _database_text()

    def explode(org_id, subject):
        raise RuntimeError("blob store unavailable")

    data_subject.register_data_subject_part("exploding", lambda o, c: {}, explode, order=95)
    try:
        with pytest.raises(RuntimeError):
            data_subject.erase_contact(org.id, contact.id, None, "cli", ADDRESS)
    finally:
        data_subject.PARTS.pop("exploding")
    assert _database_text() == before
    assert db.session.get(Contact, contact.id) is not None


def test_cli_export_and_erase_with_confirmation(app, world):
    from server.cli import main

    org, contact = world["org"], world["contact"]
    runner = app.test_cli_runner()
    out = runner.invoke(main, ["contacts", "export", str(contact.id), "--org", str(org.id)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["parts"]["record"]["last_name"] == NAME
    refused = runner.invoke(main, ["contacts", "erase", str(contact.id), "--org", str(org.id)],
                            input="nope\n")  # fmt: skip
    assert refused.exit_code == 1 and "confirm" in refused.output
    assert db.session.get(Contact, contact.id) is not None
    done = runner.invoke(main, ["contacts", "erase", str(contact.id), "--org", str(org.id)],
                         input=f"{ADDRESS}\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert db.session.get(Contact, contact.id) is None
    other_org = make_org()
    lost = runner.invoke(main, ["contacts", "erase", "1", "--org", str(other_org.id), "--yes"])
    assert lost.exit_code == 1


def test_erasure_leaves_the_outbox_row_skipped(app, world):
    row = db.session.scalar(select(OutboxMessage))
    data_subject.erase_contact(world["org"].id, world["contact"].id, None, "cli", ADDRESS)
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert row.state == "skipped" and row.recipient.endswith("@erased.invalid")
