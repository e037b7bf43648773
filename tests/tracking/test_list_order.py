"""The order of my tracked emails (TRK-7): newest sent first, the id breaking ties, the same in
the API and on the web page; keyset pages are exact (no repeats, no gaps) even on equal times."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from server.clock import utcnow
from server.extensions import db
from server.mail.delivery import Delivery
from server.mail.outbox import new_message_id, queue_message
from server.records.pagination import encode_cursor
from server.tracking.service import create_tracked_email

from .scenario import HTML, hit_click


def _email(world, subject: str, sent_at):
    email, _ = create_tracked_email(
        world.org.id, world.sender.id, [world.address], subject, HTML, None, sent_at=sent_at
    )
    db.session.commit()
    return email


def _made_out_of_order(world) -> list:
    """Six emails whose ids and sent times disagree, three of them sent at the same instant;
    answers them in the expected list order (newest sent first, then highest id)."""
    base = utcnow().replace(microsecond=0) - timedelta(days=1)
    same = base - timedelta(hours=2)
    first = _email(world, "one hour", base - timedelta(hours=1))  # lowest id, not the newest
    oldest = _email(world, "three hours", base - timedelta(hours=3))
    tie_a = _email(world, "tie a", same)
    tie_b = _email(world, "tie b", same)
    newest = _email(world, "ten minutes", base - timedelta(minutes=10))
    tie_c = _email(world, "tie c", same)
    return [newest, first, tie_c, tie_b, tie_a, oldest]


def _walk(world, limit: int, status: str | None = None) -> tuple[list[int], int]:
    """All ids of the list, page by page; answers them and the number of pages."""
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **({"status": status} if status else {})}
        if cursor:
            query["cursor"] = cursor
        answer = world.api.get("/api/tracking/emails", query_string=query)
        assert answer.status_code == 200, answer.json
        pages += 1
        items = answer.json["items"]
        assert len(items) <= limit
        seen += [item["tracked_email_id"] for item in items]
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 50, "the cursor does not advance"


def test_list_is_newest_sent_first_not_by_id(world):
    """TRK-7: one page holds the emails by sent time, newest first, equal times by id."""
    expected = _made_out_of_order(world)
    items = world.api.get("/api/tracking/emails").json["items"]
    assert [item["tracked_email_id"] for item in items] == [e.id for e in expected]
    assert [item["subject"] for item in items] == [
        "ten minutes", "one hour", "tie c", "tie b", "tie a", "three hours",
    ]  # fmt: skip
    sent = [item["sent_at"] for item in items]
    assert sent == sorted(sent, reverse=True)


def test_pages_of_one_and_two_are_exact_across_equal_sent_times(world):
    """TRK-7: limit=1 and limit=2 walk the same order with no repeat and no gap; the pages of
    two split the three equal sent times (tie c, tie b | tie a, ...) and still lose none."""
    expected = [e.id for e in _made_out_of_order(world)]
    by_one, pages_of_one = _walk(world, 1)
    assert by_one == expected and pages_of_one == 6
    by_two, pages_of_two = _walk(world, 2)
    assert by_two == expected and pages_of_two == 3
    assert len(set(by_one)) == len(by_one) == len(by_two) == 6


def test_filtered_pages_keep_the_order(world, client):
    """TRK-7: a status filter pages in the same order (clicked emails left out)."""
    newest, first, tie_c, tie_b, tie_a, oldest = _made_out_of_order(world)
    hit_click(client, tie_b.id, 0)
    hit_click(client, first.id, 0)
    seen, _ = _walk(world, 1, status="unclicked")
    assert seen == [newest.id, tie_c.id, tie_a.id, oldest.id]
    seen, _ = _walk(world, 2, status="clicked")
    assert seen == [first.id, tie_b.id]


def test_an_email_not_sent_yet_sorts_by_the_time_it_was_composed(world):
    """TRK-5/TRK-7: an outbox message is tracked when composed; still queued, it sorts by that
    time (its sent_at, set when made), above an email the add-in sent an hour earlier."""
    earlier = _email(world, "an hour ago", utcnow() - timedelta(hours=1))
    row = queue_message(
        org_id=world.org.id,
        user_id=world.sender.id,
        recipient=world.address,
        envelope_from=world.sender.email,
        message_id=new_message_id("seller.example"),
        content={
            "from": {"email": world.sender.email},
            "to": [{"email": world.address}],
            "subject": "Composed now",
            "html": HTML,
            "track": True,
        },
    )
    db.session.commit()
    with Delivery() as delivery:
        delivery.compose(row)
    db.session.commit()
    items = world.api.get("/api/tracking/emails").json["items"]
    assert [(i["subject"], i["state"]) for i in items] == [
        ("Composed now", "queued"), ("an hour ago", "sent"),
    ]  # fmt: skip
    assert items[1]["tracked_email_id"] == earlier.id


def test_cursors_of_another_shape_are_400(world):
    """TRK-7: an id-only cursor (the old order's), a naive time or a string is refused."""
    _made_out_of_order(world)
    naive = base64.urlsafe_b64encode(
        json.dumps([{"dt": "2024-01-01T00:00:00"}, 5]).encode()
    ).decode()
    for cursor in (encode_cursor([5]), naive, encode_cursor(["yesterday", 5])):
        answer = world.api.get("/api/tracking/emails", query_string={"cursor": cursor})
        assert answer.status_code == 400, answer.json
        assert answer.json["error"]["field"] == "cursor"


def test_web_page_shows_the_same_order(world, client):
    """TRK-7, UI-3: /tracking lists the emails in the API's order."""
    expected = _made_out_of_order(world)
    with client.session_transaction() as cookie:
        cookie["user_id"] = world.sender.id
        cookie["csrf"] = "csrf-for-tests"
    page = client.get("/tracking")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    positions = [html.index(f">{e.subject}<") for e in expected]
    assert positions == sorted(positions)
