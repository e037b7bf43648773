"""Threads group whatever order their messages are logged in (LOG-8): a chain of replies that
name only their parent (In-Reply-To, no References), a root logged after its replies, and a
provider's conversation id for messages that name nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from server.emails.models import LoggedEmail
from server.emails.service import log_email
from server.extensions import db
from tests.factories import ApiClient, make_org, make_user


def _message(n: int, parent: int | None, references: bool = False) -> dict:
    message = {
        "message_id": f"<m{n}@chain.test>",
        "subject": "Re: Offer" if parent else "Offer",
        "from": {"email": "bob@customer.test", "name": "Bob"},
        "to": [{"email": "alice@acme.test", "name": "Alice"}],
        "text": f"message {n}",
        "sent_at": datetime(2026, 5, 4, 9, tzinfo=UTC) + timedelta(hours=n),
    }
    if parent is not None:
        message["in_reply_to"] = f"<m{parent}@chain.test>"
        if references:
            message["references"] = [f"<m{i}@chain.test>" for i in range(1, parent + 1)]
    return message


def _threads() -> list[set[str]]:
    groups: dict[str, set[str]] = {}
    for email in db.session.scalars(db.select(LoggedEmail)):
        groups.setdefault(email.thread_key, set()).add(email.message_id)
    return list(groups.values())


@pytest.mark.parametrize("order", list(permutations([1, 2, 3, 4])))
def test_a_chain_named_by_in_reply_to_only_is_one_thread_in_any_order(app, order):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    chain = {1: None, 2: 1, 3: 2, 4: 3}
    for n in order:
        log_email(alice, structured=_message(n, chain[n]), direction="in")
    assert _threads() == [{f"m{n}@chain.test" for n in chain}]


def test_the_provider_thread_id_groups_messages_that_name_nothing(app, client):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    api = ApiClient(client, alice)
    for n in (1, 2):
        message = {**_message(n, None), "sent_at": _message(n, None)["sent_at"].isoformat()}
        body = {"email": message, "provider_thread_id": "18c2f0a9d7e1b3c4"}
        assert api.post("/api/emails/log", json=body).status_code in (200, 201)
    log_email(alice, structured=_message(3, None), direction="in")  # another conversation
    assert sorted(map(len, _threads())) == [1, 2]


def test_the_thread_endpoint_shows_the_whole_chain(app, client):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    for n in (4, 2, 3, 1):
        email = log_email(alice, structured=_message(n, {1: None, 2: 1, 3: 2, 4: 3}[n])).email
    thread = ApiClient(client, alice).get(f"/api/emails/{email.id}/thread").json
    items = thread["items"] if isinstance(thread, dict) else thread
    assert [item["message_id"] for item in items] == [f"m{n}@chain.test" for n in (1, 2, 3, 4)]
