"""A logged email moves its records' last activity forward, never back (REC-4, LOG-1)."""

from __future__ import annotations

from datetime import UTC, datetime

from server.emails.service import log_email
from server.extensions import db
from tests.factories import associate, make_company, make_contact, make_deal, make_org, make_user


def _email(rep, n: int, when: datetime) -> dict:
    return {"message_id": f"<a{n}@acme.test>", "subject": "Offer", "sent_at": when,
            "from": {"email": rep.email}, "to": [{"email": "anna@buyer.test"}],
            "text": "Hi"}  # fmt: skip


def test_logging_moves_last_activity_of_every_associated_record_forward(app):
    org = make_org(domain="acme.test")
    rep = make_user(org, email="rita@acme.test")
    company = make_company(org, "Buyer Ltd", domains=["buyer.test"])
    anna = make_contact(org, emails=["anna@buyer.test"], company=company)
    deal = make_deal(org)
    associate(org, anna, deal)
    updated_before = anna.updated_at
    late, early = datetime(2026, 5, 4, 9, tzinfo=UTC), datetime(2026, 3, 1, 9, tzinfo=UTC)

    log_email(rep, structured=_email(rep, 1, late), direction="out")
    db.session.expire_all()
    assert anna.last_activity_at == late and company.last_activity_at == late
    assert deal.last_activity_at == late  # the contact's open deal was ticked by default
    assert anna.updated_at == updated_before  # an email is no edit of the record

    log_email(rep, structured=_email(rep, 2, early), direction="out")  # an older email
    db.session.expire_all()
    assert anna.last_activity_at == late
