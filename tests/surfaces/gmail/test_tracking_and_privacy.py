"""What the cards show from the tracking service (TRK-5): the status of my tracked emails on the
homepage and of a sent message on its card."""

from __future__ import annotations

import pytest
from factories import make_contact

from server.extensions import db

from .conftest import USER_EMAIL, make_mime, pushed, texts, widgets

tracking = pytest.importorskip("server.tracking.service", reason="tracking (TRK) not installed")


def _tracked(org, rep, subject: str, message_id: str):
    email, _ = tracking.create_tracked_email(
        org.id, rep.id, ["ada@client.example"], subject, "<p>Hi</p>", None, message_id=message_id
    )
    db.session.commit()
    return email


def test_homepage_lists_my_tracked_emails_with_their_status(addon, org, rep):
    make_contact(org, "ada@client.example")
    _tracked(org, rep, "Our offer", "offer-1@x")

    card = pushed(addon.post("/gmail/homepage"))

    [tracked] = [s for s in card["sections"] if s.get("header") == "My tracked emails"]
    assert [w["decoratedText"]["text"] for w in tracked["widgets"]] == ["Our offer"]
    assert tracked["widgets"][0]["decoratedText"]["bottomLabel"] == "Sent"


def test_sent_message_card_shows_its_tracking_status(addon, org, rep, gmail_api):
    make_contact(org, "ada@client.example")
    _tracked(org, rep, "Our offer", "offer-1@x")
    mime = make_mime(USER_EMAIL, ["ada@client.example"], "Our offer", message_id="<offer-1@x>")
    message_id = gmail_api.add_message(mime)

    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))

    [line] = [w["decoratedText"] for w in widgets(card)
              if w.get("decoratedText", {}).get("topLabel") == "Tracking"]  # fmt: skip
    assert line["text"] == "Sent"
    assert "ada@client.example" in line["bottomLabel"]  # who an open can be attributed to


def test_untracked_sent_message_says_so(addon, org, rep, gmail_api):
    mime = make_mime(USER_EMAIL, ["ada@client.example"], "Plain", message_id="<plain-1@x>")
    message_id = gmail_api.add_message(mime)

    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))

    assert "This email was not tracked." in texts(card)
