"""A message tracked while it was composed (Outlook on-send, Gmail compose) is found by its
Message-ID once its sent copy is logged by any path (TRK-5, LOG-2)."""

from __future__ import annotations

from server.emails.service import log_email
from server.tracking.service import tracking_status

from .scenario import HTML


def test_the_bcc_copy_gives_the_prepared_email_its_message_id_and_subject(world):
    prepared = world.api.post(
        "/api/tracking/prepare", json={"html": HTML, "recipients": [world.address]}
    ).json
    assert tracking_status(world.org.id, message_id="<sent-1@seller.example>") is None
    sent = {"message_id": "<sent-1@seller.example>", "subject": "Our offer",
            "from": {"email": world.sender.email}, "to": [{"email": world.address}],
            "html": prepared["html"]}  # fmt: skip
    log_email(world.sender, structured=sent, source="bcc", direction="out")

    status = tracking_status(world.org.id, message_id="<sent-1@seller.example>")
    assert status["tracked_email_id"] == prepared["tracked_email_id"]
    assert status["subject"] == "Our offer"


def test_an_incoming_message_quoting_our_pixel_links_nothing(world):
    prepared = world.api.post(
        "/api/tracking/prepare", json={"html": HTML, "recipients": [world.address]}
    ).json
    reply = {"message_id": "<reply-1@buyer.example>", "subject": "Re: Our offer",
             "from": {"email": world.address}, "to": [{"email": world.sender.email}],
             "html": "<p>Thanks</p><blockquote>" + prepared["html"] + "</blockquote>"}  # fmt: skip
    log_email(world.sender, structured=reply, direction="in")
    assert tracking_status(world.org.id, message_id="<reply-1@buyer.example>") is None
