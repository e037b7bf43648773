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


def test_parallel_http_posts_to_a_real_server_make_one_row(app):
    """LOG-3 over HTTP: a real threaded server, concurrent POST /api/emails/log with requests (one
    connection each); one row, every delivery's association, every answer 200."""
    import base64

    import requests
    from werkzeug.serving import make_server

    from server.auth.tokens import create_api_token

    org = make_org(domain="acme.test")
    users = [make_user(org, email="alice@acme.test")] + [make_user(org) for _ in range(2)]
    deals = [make_deal(org, name=f"Deal {i}") for i in range(THREADS)]
    tokens = [create_api_token(u, "race")[1] for u in users]
    deal_ids = [d.id for d in deals]
    raw = base64.b64encode(sample("calendar_invite.eml")).decode()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/api/emails/log"
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def post(i: int) -> None:
        try:
            with requests.Session() as http:
                http.trust_env = False  # loopback only, never a proxy from the environment
                body = {"raw": raw, "direction": "out", "source": ("api", "bcc", "outlook")[i % 3],
                        "associations": [{"type": "deal", "id": deal_ids[i]}]}  # fmt: skip
                headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
                barrier.wait()
                response = http.post(url, json=body, headers=headers, timeout=120)
                answers.append((response.status_code, response.json()))
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
        serving.join()
        server.server_close()

    assert errors == []
    assert [code for code, _ in answers] == [200] * THREADS, answers
    statuses = sorted(answer["status"] for _, answer in answers)
    assert statuses == ["already_logged"] * (THREADS - 1) + ["logged"]
    assert len({answer["email"]["id"] for _, answer in answers}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LoggedEmail)) == 1
    got = set(db.session.execute(
        select(LoggedEmailAssociation.record_type, LoggedEmailAssociation.record_id)
    ).all())  # fmt: skip
    contacts = set(db.session.scalars(select(ContactEmail.contact_id)))
    assert len(contacts) == 2
    assert got == {("deal", d) for d in deal_ids} | {("contact", c) for c in contacts}
