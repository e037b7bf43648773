"""Notifications (TRK-6): stored with read/unread, pushed after commit, only to their user."""

from __future__ import annotations

import json

import pytest
from factories import ApiClient, make_org, make_user

from server.extensions import db
from server.notifications.bus import bus_for
from server.notifications.service import notify


@pytest.fixture
def people(app, client):
    org = make_org()
    alice, bob = make_user(org, email="alice@example.com"), make_user(org, email="bob@example.com")
    return org, ApiClient(client, alice), ApiClient(client, bob)


@pytest.fixture
def short_streams(app):
    saved = {
        k: app.config.get(k)
        for k in ("NOTIFICATIONS_KEEPALIVE_SECONDS", "NOTIFICATIONS_STREAM_SECONDS")
    }
    app.config.update(NOTIFICATIONS_KEEPALIVE_SECONDS=0.05, NOTIFICATIONS_STREAM_SECONDS=5)
    yield
    app.config.update(saved)


def _events(chunks: list[bytes]) -> list[tuple[str, dict | None]]:
    """Parse SSE chunks into (event, data) pairs; comments come out as (":", None)."""
    found = []
    for chunk in chunks:
        text = chunk.decode()
        if text.startswith(":"):
            found.append((":", None))
            continue
        fields = dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_notification_is_listed_with_unread_count_and_can_be_read(people):
    org, alice, bob = people
    first = notify(org.id, alice.user.id, "tracking.open", "Anna opened “Offer”", "2 min ago")
    notify(
        org.id,
        alice.user.id,
        "tracking.click",
        "Anna clicked a link",
        data={"url": "https://x.example"},
    )
    db.session.commit()

    page = alice.get("/api/notifications").get_json()
    assert [n["kind"] for n in page["items"]] == ["tracking.click", "tracking.open"]
    assert page["unread_count"] == 2
    assert page["items"][0]["data"] == {"url": "https://x.example"}

    assert alice.post(f"/api/notifications/{first.id}/read").get_json()["read"] is True
    assert alice.get("/api/notifications/unread-count").get_json() == {"unread_count": 1}
    unread = alice.get("/api/notifications?unread=true").get_json()["items"]
    assert [n["kind"] for n in unread] == ["tracking.click"]
    assert alice.post("/api/notifications/read-all").get_json() == {"marked": 1}
    assert alice.get("/api/notifications/unread-count").get_json() == {"unread_count": 0}


def test_another_users_notification_cannot_be_seen_or_read(people):
    org, alice, bob = people
    mine = notify(org.id, alice.user.id, "tracking.open", "opened")
    db.session.commit()
    assert bob.get("/api/notifications").get_json()["items"] == []
    response = bob.post(f"/api/notifications/{mine.id}/read")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert alice.get("/api/notifications/unread-count").get_json() == {"unread_count": 1}


def test_pagination_walks_every_notification_once(people):
    org, alice, _bob = people
    for n in range(7):
        notify(org.id, alice.user.id, "tracking.open", f"open {n}")
    db.session.commit()
    seen, cursor = [], None
    while True:
        url = "/api/notifications?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = alice.get(url).get_json()
        seen += [n["title"] for n in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"open {n}" for n in reversed(range(7))]


def test_bad_cursor_and_last_event_id_are_clear_errors(people):
    _org, alice, _bob = people
    response = alice.get("/api/notifications?cursor=not-a-cursor")
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["field"] == "cursor"
    response = alice.get("/api/notifications/stream", headers={"Last-Event-ID": "x1"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "Last-Event-ID"


def test_push_happens_after_commit_and_never_after_rollback(people):
    org, alice, _bob = people
    inbox = bus_for(None).subscribe(alice.user.id)
    try:
        notify(org.id, alice.user.id, "tracking.open", "rolled back")
        assert inbox.get(timeout=0) is None  # not before the commit
        db.session.rollback()
        assert inbox.get(timeout=0) is None

        notify(org.id, alice.user.id, "tracking.open", "kept")
        db.session.commit()
        assert inbox.get(timeout=0)["title"] == "kept"
    finally:
        inbox.close()


def test_stream_reaches_only_its_own_user(people, short_streams):
    org, alice, bob = people
    alice_stream = alice.get("/api/notifications/stream", buffered=False)
    bob_stream = bob.get("/api/notifications/stream", buffered=False)
    assert alice_stream.mimetype == "text/event-stream"
    assert alice_stream.headers["Cache-Control"] == "no-cache"
    alice_chunks, bob_chunks = iter(alice_stream.response), iter(bob_stream.response)
    opening = _events([next(alice_chunks), next(alice_chunks)])
    assert opening == [("unread", {"count": 0})]
    _events([next(bob_chunks), next(bob_chunks)])

    sent = notify(org.id, alice.user.id, "tracking.click", "Anna clicked")
    db.session.commit()

    received = _events([next(alice_chunks)])
    assert received == [
        ("notification", {**received[0][1], "id": sent.id, "title": "Anna clicked"})
    ]
    assert _events([next(bob_chunks)]) == [(":", None)]  # Bob's stream only keeps alive
    alice_stream.close()
    bob_stream.close()


def test_reconnecting_stream_gets_what_it_missed_first(people, short_streams):
    org, alice, _bob = people
    first = notify(org.id, alice.user.id, "tracking.open", "one")
    notify(org.id, alice.user.id, "tracking.open", "two")
    notify(org.id, alice.user.id, "tracking.open", "three")
    db.session.commit()

    stream = alice.get(
        "/api/notifications/stream", headers={"Last-Event-ID": str(first.id)}, buffered=False
    )
    chunks = iter(stream.response)
    events = _events([next(chunks) for _ in range(4)])
    assert events[0] == ("unread", {"count": 3})
    assert [data["title"] for _kind, data in events[1:]] == ["two", "three"]
    stream.close()


def test_stream_needs_a_signed_in_user(client):
    response = client.get("/api/notifications/stream")
    assert response.status_code == 401
