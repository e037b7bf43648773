"""A one-time legal basis given in a sidebar is used by the one message the rep then sends from
their mail client (GDPR-2, GDPR-3): learnt when that message is logged, once."""

from __future__ import annotations

from server.consent.gate import check_recipients
from server.consent.models import ConsentAudit, OneTimeBasis
from server.consent.service import give_one_time_basis
from server.emails.service import log_email
from server.extensions import db
from server.orgs.settings import set_org_settings
from tests.factories import make_contact, make_org, make_user


def _world():
    org = make_org(domain="acme.test")
    boss = make_user(org, role="super_admin", email="boss@acme.test")
    set_org_settings(boss, {"data_privacy": True})
    rep = make_user(org, email="rita@acme.test")
    anna = make_contact(org, emails=["anna@buyer.test"])
    return org, rep, anna


def _sent(rep, message_id: str) -> dict:
    return {"message_id": message_id, "subject": "Contract", "text": "Attached.",
            "from": {"email": rep.email, "name": ""},
            "to": [{"email": "Anna@Buyer.test", "name": "Anna"}]}  # fmt: skip


def test_logging_the_sent_message_uses_the_basis_once(app):
    org, rep, anna = _world()
    reason = "Sending the signed contract she asked for"
    basis = give_one_time_basis(org.id, rep.id, anna.id, reason, "commercial", "outlook")
    db.session.commit()
    assert (
        check_recipients(org.id, ["anna@buyer.test"], "commercial")["anna@buyer.test"].status
        == "allowed"
    )

    log_email(rep, structured=_sent(rep, "<c1@acme.test>"), source="outlook", direction="out")
    log_email(rep, structured=_sent(rep, "<c1@acme.test>"), source="bcc", direction="out")  # again

    db.session.refresh(basis)
    assert basis.used_at is not None and basis.used_by_outbox_id is None
    used = db.session.scalars(
        db.select(ConsentAudit).where(ConsentAudit.action == "one_time_basis_used")
    ).all()
    assert len(used) == 1 and used[0].details["message_id"] == "c1@acme.test"
    decision = check_recipients(org.id, ["anna@buyer.test"], "commercial")["anna@buyer.test"]
    assert decision.status == "needs_basis"  # the next message needs a basis again


def test_an_incoming_message_uses_nothing(app):
    org, rep, anna = _world()
    give_one_time_basis(
        org.id, rep.id, anna.id, "Replying about her invoice", "commercial", "gmail"
    )
    db.session.commit()
    incoming = {**_sent(rep, "<in1@buyer.test>"), "from": {"email": "anna@buyer.test"},
                "to": [{"email": rep.email}]}  # fmt: skip
    log_email(rep, structured=incoming, direction="in")
    assert db.session.scalar(db.select(OneTimeBasis.used_at)) is None
