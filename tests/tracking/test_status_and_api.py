"""Status, filter, feed, timeline and notifications (TRK-5..7), the sidebar's options and
prepare (TRK-1..3, TRK-10), send-time injection of outbox rows, and the data subject part."""

from __future__ import annotations

import email as email_parser
from email import policy

from factories import make_contact
from sqlalchemy import select

from server.consent.models import LegalBasis
from server.emails.models import LoggedEmail, LoggedEmailAssociation
from server.extensions import db
from server.mail.delivery import Delivery
from server.mail.outbox import new_message_id, queue_message
from server.notifications.models import Notification
from server.orgs.settings import set_org_settings
from server.tracking.models import TrackedEmail
from server.tracking.parts import erase_tracking, export_tracking, tracking_source
from server.tracking.service import tracking_status

from .scenario import HTML, events, hit_click, hit_open, reloaded, tracked


def _notifications(user_id: int) -> list[tuple[str, str]]:
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
    )
    return [(n.kind, n.title) for n in rows]


def test_status_goes_sent_opened_clicked_with_human_counts(world, client):
    """TRK-5: first/last open and count, which link was clicked and when; machines beside."""
    email = tracked(world)
    assert tracking_status(world.org.id, tracked_email_id=email.id)["state"] == "sent"
    hit_open(client, email.id, ip="17.1.2.3", ua="Mozilla/5.0")  # Apple's prefetch
    assert tracking_status(world.org.id, tracked_email_id=email.id)["state"] == "sent"
    hit_open(client, email.id)
    hit_open(client, email.id)
    hit_click(client, email.id, 1)
    status = tracking_status(world.org.id, tracked_email_id=email.id)
    assert status["state"] == "clicked"
    assert status["opens"]["human"] == 2 and status["opens"]["machine"] == 1
    assert status["opens"]["first_at"] <= status["opens"]["last_at"]
    demo = status["clicks"]["links"][1]
    assert demo["url"] == "https://example.com/demo" and demo["clicks"]["human"] == 1
    assert len(status["clicks"]["links"]) == 2  # the trap link is not listed
    assert status["attribution"].startswith("Someone with access to the message sent to ann@")
    assert tracking_status(world.org.id + 1, tracked_email_id=email.id) is None


def test_status_by_message_id_with_or_without_brackets(world):
    email = tracked(world, message_id="<abc@seller.example>")
    assert tracking_status(world.org.id, message_id="<abc@seller.example>")["tracked_email_id"] == (
        email.id
    )
    assert tracking_status(world.org.id, message_id="abc@seller.example") is not None
    assert tracking_status(world.org.id, message_id="other@x") is None


def test_notifications_on_first_human_open_and_each_human_click(world, client):
    """TRK-6: one for the first person's open, one per person's click; none for machines."""
    email = tracked(world)
    hit_open(client, email.id, ua="python-requests/2.0")
    hit_open(client, email.id)
    hit_open(client, email.id)
    hit_click(client, email.id, 0)
    hit_click(client, email.id, 0, ip="66.249.84.1", ua="GoogleImageProxy")
    assert _notifications(world.sender.id) == [
        ("tracking.open", "Opened: Our offer"),
        ("tracking.click", "Clicked: Our offer"),
    ]


def test_several_recipients_are_tracked_anonymously(world, client):
    """TRK-3: one message to several people: times of opens, not who."""
    make_contact(world.org, emails=["bob@buyer.example"])
    email = tracked(world, recipients=[world.address, "Bob@Buyer.example"])
    hit_open(client, email.id)
    status = tracking_status(world.org.id, tracked_email_id=email.id)
    assert status["anonymous"] and status["recipient"] is None
    assert status["attribution"] == "One of the 2 recipients (who is not known)"


def test_my_tracked_emails_filter_by_status(world, client):
    """TRK-7: opened / unopened / clicked / unclicked, only mine, paginated."""
    opened, clicked, quiet = tracked(world), tracked(world), tracked(world)
    hit_open(client, opened.id)
    hit_click(client, clicked.id, 0)

    def ids(status: str) -> list[int]:
        answer = world.api.get(f"/api/tracking/emails?status={status}")
        assert answer.status_code == 200, answer.json
        return [item["tracked_email_id"] for item in answer.json["items"]]

    assert ids("opened") == [opened.id]
    assert ids("unopened") == [quiet.id, clicked.id]
    assert ids("clicked") == [clicked.id]
    assert ids("unclicked") == [quiet.id, opened.id]
    first = world.api.get("/api/tracking/emails?limit=2").json
    second = world.api.get(f"/api/tracking/emails?limit=2&cursor={first['next_cursor']}").json
    assert [i["tracked_email_id"] for i in first["items"] + second["items"]] == [
        quiet.id, clicked.id, opened.id,
    ]  # fmt: skip
    assert world.api.get("/api/tracking/emails?status=read").status_code in (400, 422)


def test_activity_feed_shows_human_events_unless_asked(world, client):
    email = tracked(world)
    hit_open(client, email.id, ua="curl/8.0")
    hit_open(client, email.id)
    hit_click(client, email.id, 0)
    feed = world.api.get("/api/tracking/activity").json["items"]
    assert [(i["kind"], i["url"]) for i in feed] == [
        ("click", "https://example.com/pricing"), ("open", None),
    ]  # fmt: skip
    everything = world.api.get("/api/tracking/activity?include_machine=true").json["items"]
    assert [i["classification"] for i in everything] == [
        "human",
        "human",
        "scanner:automated_client",
    ]


def test_one_email_status_is_the_senders_own(world, client):
    email = tracked(world)
    assert world.api.get(f"/api/tracking/emails/{email.id}").json["state"] == "sent"
    from factories import ApiClient, make_user

    colleague = ApiClient(client, make_user(world.org))
    assert colleague.get(f"/api/tracking/emails/{email.id}").status_code == 404


def test_timeline_shows_human_opens_and_clicks_of_associated_emails(world, client):
    email = tracked(world, message_id="<m1@seller.example>")
    logged = LoggedEmail(org_id=world.org.id, message_id="m1@seller.example", message_key="m1",
                         thread_key="m1", direction="out", source="bcc")  # fmt: skip
    db.session.add(logged)
    db.session.flush()
    db.session.add(
        LoggedEmailAssociation(
            org_id=world.org.id,
            email_id=logged.id,
            record_type="contact",
            record_id=world.contact.id,
            source="auto",
        )  # fmt: skip
    )
    db.session.commit()
    hit_open(client, email.id, ua="curl/8")
    hit_open(client, email.id)
    hit_click(client, email.id, 1)
    entries = tracking_source(world.org.id, [("contact", world.contact.id)], None, 10)
    assert [(e.kind, e.data["kind"]) for e in entries] == [
        ("tracking", "click"),
        ("tracking", "open"),
    ]
    assert entries[0].data["email_id"] == logged.id
    rest = tracking_source(
        world.org.id, [("contact", world.contact.id)], (entries[0].at, entries[0].key), 10
    )
    assert [e.key for e in rest] == [entries[1].key]
    assert tracking_source(world.org.id, [("contact", world.contact.id + 1)], None, 10) == []


def test_options_say_why_track_is_disabled(world):
    """TRK-2, TRK-10: the sidebar's Track box and the reason per recipient."""
    answer = world.api.post(
        "/api/tracking/options",
        json={"recipients": [world.address, "nobody@else.example"], "body_type": "text"},
    ).json
    assert answer["track"]["allowed"] is False and answer["track"]["locked"] is True
    assert "nobody@else.example" in answer["track"]["reason"]
    assert answer["recipients"]["ann@buyer.example"] == {"may_track": True, "reason": None}
    assert answer["recipients"]["nobody@else.example"]["may_track"] is False
    assert answer["opens_trackable"] is False
    fine = world.api.post("/api/tracking/options", json={"recipients": [world.address]}).json
    assert fine["track"] == {"value": True, "locked": False, "allowed": True, "reason": None}
    assert fine["opens_trackable"] is True


def test_gdpr_on_tracks_only_contacts_with_a_legal_basis(world, client):
    """TRK-10: data privacy on: no basis → untracked with the reason; a basis → tracked."""
    set_org_settings(None, {"data_privacy": True}, org_id=world.org.id)
    body = {"html": HTML, "recipients": [world.address], "subject": "Hi"}
    refused = world.api.post("/api/tracking/prepare", json=body).json
    assert refused["tracked"] is False and refused["html"] == HTML
    assert refused["tracked_email_id"] is None and refused["pixel_url"] is None
    assert "legal basis" in refused["reason"]["ann@buyer.example"]
    db.session.add(LegalBasis(org_id=world.org.id, contact_id=world.contact.id,
                              basis="contract", surface="web"))  # fmt: skip
    db.session.commit()
    allowed = world.api.post("/api/tracking/prepare", json=body).json
    assert allowed["tracked"] is True and "/t/o/" in allowed["html"]
    assert allowed["pixel_url"] in allowed["html"] and allowed["opens_trackable"] is True


def test_org_that_disallows_tracking_tracks_nothing(world):
    set_org_settings(None, {"allow_tracking": False}, org_id=world.org.id)
    body = {"html": HTML, "recipients": [world.address]}
    answer = world.api.post("/api/tracking/prepare", json=body).json
    assert answer["tracked"] is False and answer["reason"] == {
        "*": "Tracking is not allowed in this organization."
    }


def test_prepare_plain_text_says_opens_cannot_be_tracked(world):
    """TRK-2: links rewritten, no pixel, opens_trackable false."""
    answer = world.api.post(
        "/api/tracking/prepare",
        json={"text": "Look: https://example.com/x", "recipients": [world.address]},
    ).json
    assert answer["opens_trackable"] is False and answer["pixel_url"] is None
    assert "/t/c/" in answer["text"] and answer["html"] is None
    assert (
        world.api.post("/api/tracking/prepare", json={"recipients": [world.address]}).json["error"][
            "field"
        ]
        == "html"
    )


def _queue(world, to: list[str], track: bool = True):
    row = queue_message(
        org_id=world.org.id,
        user_id=world.sender.id,
        recipient=to[0],
        envelope_from=world.sender.email,
        message_id=new_message_id("seller.example"),
        content={
            "from": {"email": world.sender.email},
            "to": [{"email": a} for a in to],
            "subject": "Offer",
            "html": HTML,
            "text": "Pricing: https://example.com/pricing",
            "track": track,
        },
    )
    db.session.commit()
    return row


def _html_part(raw: bytes) -> str:
    message = email_parser.message_from_bytes(raw, policy=policy.default)
    return message.get_body(("html",)).get_content()


def test_outbox_row_with_track_gets_injection_at_send_once(world):
    """TRK-1: the content preparer injects at send; a retry reuses the same tracked email."""
    row = _queue(world, [world.address])
    with Delivery() as delivery:
        first = _html_part(delivery.compose(row))
        again = _html_part(delivery.compose(row))
    [email] = db.session.scalars(select(TrackedEmail).where(TrackedEmail.outbox_id == row.id))
    assert email.recipient == world.address and email.tracked
    assert email.message_id == row.message_id.strip("<>")
    assert "/t/o/" in first and "https://example.com/pricing" not in first
    assert first == again
    untracked = _queue(world, [world.address], track=False)
    with Delivery() as delivery:
        assert "/t/o/" not in _html_part(delivery.compose(untracked))


def test_outbox_row_to_a_stranger_goes_untracked_with_the_reason(world):
    """TRK-10: one copy for several recipients is tracked only if every one may be."""
    row = _queue(world, [world.address, "stranger@else.example"])
    with Delivery() as delivery:
        html = _html_part(delivery.compose(row))
    assert "/t/" not in html
    email = db.session.scalar(select(TrackedEmail).where(TrackedEmail.outbox_id == row.id))
    assert not email.tracked and "stranger@else.example" in email.untracked_reason


def test_data_subject_export_and_erase_cover_the_contacts_tracking(world, client):
    email = tracked(world)
    anonymous = tracked(world, recipients=[world.address, "bob@b.example"])
    hit_open(client, email.id)
    exported = export_tracking(world.org.id, world.contact)
    assert [e["tracked_email_id"] for e in exported] == [email.id]
    assert exported[0]["events"][0]["ip"] == "203.0.113.7"
    assert erase_tracking(world.org.id, world.contact) == {
        "tracked_emails": 1,
        "tracking_events": 1,
    }
    db.session.commit()
    assert db.session.get(TrackedEmail, email.id) is None and events(email.id) == []
    assert reloaded(anonymous) is not None


def test_prepare_takes_control_characters_without_storing_them(world):
    """NUL in a subject, a Message-ID or a URL would be refused by PostgreSQL: never stored."""
    answer = world.api.post(
        "/api/tracking/prepare",
        json={"text": "x https://e.com/a\x00b", "recipients": [world.address],
              "subject": "a\x00b", "message_id": "<m\x00@x>"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.json
    status = tracking_status(world.org.id, tracked_email_id=answer.json["tracked_email_id"])
    assert status["subject"] == "ab" and status["message_id"] == "m@x"
    assert [link["url"] for link in status["clicks"]["links"]] == ["https://e.com/a"]


def test_logged_copy_gives_a_prepared_email_its_message_id(world):
    """The add-in's prepare has no Message-ID yet; the logged copy's pixel names the email."""
    from server.tracking.service import attach_message_id

    html = world.api.post(
        "/api/tracking/prepare", json={"html": HTML, "recipients": [world.address]}
    ).json["html"]
    tracked_id = attach_message_id(world.org.id, html, "<sent-1@seller.example>")
    db.session.commit()
    assert (
        tracking_status(world.org.id, message_id="<sent-1@seller.example>")["tracked_email_id"]
        == tracked_id
    )
    assert attach_message_id(world.org.id + 1, html, "<x@y>") is None
    assert attach_message_id(world.org.id, "<p>no pixel</p>", "<x@y>") is None


def test_a_tracked_message_that_never_went_out_is_not_sent_not_unopened(world, app):
    """TRK-5/TRK-7: the tracked email is made when the message is composed; if the relay never
    accepts it, its status says "not_sent" and it is no "unopened" email (newcomer pass)."""
    from server.mail.outbox_tasks import send_due

    row = _queue(world, [world.address])
    listed = world.api.get("/api/tracking/emails").json["items"]
    assert listed == []  # nothing tracked before the message is composed
    app.config["SMTP_HOST"] = None  # no relay: the row fails once composed
    try:
        send_due()
    finally:
        app.config["SMTP_HOST"] = "127.0.0.1"
    db.session.expire_all()
    [item] = world.api.get("/api/tracking/emails").json["items"]
    assert item["state"] == "not_sent"
    assert world.api.get("/api/tracking/emails?status=unopened").json["items"] == []
    status = tracking_status(world.org.id, message_id=row.message_id)
    assert status["state"] == "not_sent"
