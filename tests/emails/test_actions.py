"""Actions on a logged email from the timeline (LOG-9): pin, soft delete (the logger or an
admin, audited), restore (admins), details; and threads (LOG-8), in whatever order the messages
were logged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.emails.service import log_email
from tests.factories import ApiClient, make_contact, make_org, make_user

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def world():
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    bob = make_contact(org, "bob@customer.test")
    return org, alice, bob


def logged(user, n: int, references=(), in_reply_to=None, minutes: int = 0, **extra):
    return log_email(
        user,
        structured={
            "message_id": f"<m{n}@acme.test>",
            "subject": f"Mail {n}",
            "from": {"email": user.email, "name": ""},
            "to": [{"email": "bob@customer.test", "name": ""}],
            "cc": [{"email": "carol@customer.test", "name": "Carol"}],
            "sent_at": T0 + timedelta(minutes=minutes),
            "references": list(references),
            "in_reply_to": in_reply_to,
            "text": f"Body {n}",
            **extra,
        },
        create_contacts=False,
    ).email


def test_only_the_logger_or_an_admin_deletes_and_only_an_admin_restores(app, client):
    org, alice, bob = world()
    email = logged(alice, 1)
    rep = ApiClient(client, make_user(org))
    boss = make_user(org, role="admin")
    admin = ApiClient(client, boss)
    owner = ApiClient(client, alice)
    assert rep.delete(f"/api/emails/{email.id}").status_code == 403
    assert owner.get(f"/api/emails/{email.id}/details").json["details"]["may_delete"] is True
    assert owner.delete(f"/api/emails/{email.id}").status_code == 204
    for path in ("details", "thread"):
        assert owner.get(f"/api/emails/{email.id}/{path}").status_code == 404
    assert owner.post(f"/api/emails/{email.id}/pin").status_code == 404
    assert owner.post(f"/api/emails/{email.id}/restore").status_code == 403
    restored = admin.post(f"/api/emails/{email.id}/restore")
    assert restored.status_code == 200 and restored.json["deleted"] is False
    assert admin.post(f"/api/emails/{email.id}/restore").status_code == 409  # not deleted
    details = admin.get(f"/api/emails/{email.id}/details").json["details"]
    assert [(a["action"], a["actor_id"]) for a in details["audit"]] == [
        ("delete", alice.id),
        ("restore", boss.id),
    ]
    assert details["audit"][0]["at"] <= details["audit"][1]["at"]
    assert admin.delete(f"/api/emails/{email.id}").status_code == 204  # admins delete too


def test_details_show_parties_time_attachments_and_no_tracking_yet(app, client):
    org, alice, bob = world()
    email = logged(alice, 1)
    api = ApiClient(client, alice)
    assert api.post(f"/api/emails/{email.id}/pin").json == {"id": email.id, "pinned": True,
                                                           "deleted": False}  # fmt: skip
    details = api.get(f"/api/emails/{email.id}/details").json["details"]
    assert details["from"]["email"] == "alice@acme.test"
    assert [p["email"] for p in details["to"]] == ["bob@customer.test"]
    assert details["cc"] == [{"email": "carol@customer.test", "name": "Carol"}]
    assert details["sent_at"].startswith("2026-03-01T09:00")
    assert details["attachments"] == [] and details["tracking"] is None
    assert details["pinned_by_id"] == alice.id
    assert [a["action"] for a in details["audit"]] == ["pin"]
    assert api.delete(f"/api/emails/{email.id}/pin").json["pinned"] is False


def test_thread_oldest_first_even_when_the_reply_was_logged_first(app, client):
    org, alice, bob = world()
    reply = logged(alice, 2, references=["<m1@acme.test>"], in_reply_to="<m1@acme.test>",
                   minutes=10)  # fmt: skip
    root = logged(alice, 1)
    later = logged(alice, 3, references=["<m1@acme.test>", "<m2@acme.test>"], minutes=20)
    logged(alice, 9, minutes=5)  # another conversation
    api = ApiClient(client, alice)
    for email in (reply, root, later):
        items = api.get(f"/api/emails/{email.id}/thread").json["items"]
        assert [i["id"] for i in items] == [root.id, reply.id, later.id]


def test_thread_joins_a_reply_that_names_only_its_parent(app, client):
    org, alice, bob = world()
    root = logged(alice, 1)
    middle = logged(alice, 2, references=["<m1@acme.test>"], minutes=1)
    # a client that sent In-Reply-To only: its thread key is the middle message, not the root
    tail = logged(alice, 3, in_reply_to="<m2@acme.test>", minutes=2)
    api = ApiClient(client, alice)
    for email in (tail, root):
        items = api.get(f"/api/emails/{email.id}/thread").json["items"]
        assert [i["id"] for i in items] == [root.id, middle.id, tail.id]


def test_another_orgs_email_is_404_for_every_action(app, client):
    org, alice, bob = world()
    theirs = logged(make_user(make_org(), email="x@other.test"), 7)
    api = ApiClient(client, make_user(org, role="admin"))
    for method, path in [("get", "thread"), ("get", "details"), ("post", "pin"),
                         ("delete", "pin"), ("post", "restore")]:  # fmt: skip
        assert getattr(api, method)(f"/api/emails/{theirs.id}/{path}").status_code == 404
    assert api.delete(f"/api/emails/{theirs.id}").status_code == 404


def test_a_thread_costs_the_same_queries_however_long(app, client, count_queries):
    org, alice, bob = world()
    logged(alice, 1)
    api = ApiClient(client, alice)
    api.get("/api/emails/1/thread")  # the token's first use is noted once
    counts = []
    for n in range(2, 12):
        last = logged(alice, n, references=["<m1@acme.test>"], minutes=n)
        if n in (3, 11):
            count_queries.clear()
            assert len(api.get(f"/api/emails/{last.id}/thread").json["items"]) == n
            counts.append(len(count_queries))
    assert counts[0] == counts[1]
