"""The dedupe race (LOG-3): parallel deliveries of one message make one row, every association."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from server.emails.models import LoggedEmail, LoggedEmailAssociation
from server.emails.service import log_email
from server.extensions import db
from server.orgs.models import User
from server.records.models import ContactEmail
from tests.emails.conftest import sample
from tests.factories import make_deal, make_org, make_user

THREADS = 6


def test_parallel_deliveries_make_one_row_with_all_associations(app):
    org = make_org(domain="acme.test")
    users = [make_user(org, email="alice@acme.test")] + [make_user(org) for _ in range(2)]
    deals = [make_deal(org, name=f"Deal {i}") for i in range(THREADS)]
    user_ids, deal_ids = [u.id for u in users], [d.id for d in deals]
    raw = sample("calendar_invite.eml")  # to two unknown addresses: contacts race too
    barrier = threading.Barrier(THREADS)
    statuses: list[str] = []
    errors: list[BaseException] = []

    def deliver(i: int) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, user_ids[i % len(user_ids)])
                barrier.wait()
                result = log_email(user, raw=raw, source=("api", "bcc", "outlook", "gmail")[i % 4],
                                   direction="out",
                                   associations=[{"type": "deal", "id": deal_ids[i]}])  # fmt: skip
                statuses.append(result.status)
            except BaseException as exc:  # reported below, on the test's thread
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(statuses) == ["already_logged"] * (THREADS - 1) + ["logged"]
    assert db.session.scalar(select(func.count()).select_from(LoggedEmail)) == 1
    got = set(db.session.execute(
        select(LoggedEmailAssociation.record_type, LoggedEmailAssociation.record_id)
    ).all())  # fmt: skip
    contacts = set(db.session.scalars(select(ContactEmail.contact_id)))
    assert len(contacts) == 2
    assert got == {("deal", d) for d in deal_ids} | {("contact", c) for c in contacts}
