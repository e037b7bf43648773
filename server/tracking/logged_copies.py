"""Tracked emails made before their Message-ID existed (the Outlook on-send handler and the
Gmail compose card call /api/tracking/prepare while composing): when the sent copy is logged
(BCC, add-in or API), the pixel in its HTML names the tracked email, which takes the message's
Message-ID and subject, so status by Message-ID, the read pane and the timeline find it."""

from __future__ import annotations

from .. import events
from ..emails.models import LoggedEmail
from ..extensions import db
from .models import TrackedEmail
from .service import attach_message_id


def link_logged_copy(org_id: int, email_id: int, direction: str, **_payload) -> int | None:
    """`email.logged` subscriber: link the tracked email whose pixel the logged copy carries."""
    if direction != "out":
        return None
    email = db.session.get(LoggedEmail, email_id)
    if email is None or not email.message_id:
        return None
    tracked_id = attach_message_id(org_id, email.body_html_raw, email.message_id)
    tracked = db.session.get(TrackedEmail, tracked_id) if tracked_id else None
    if tracked is not None and not tracked.subject and email.subject:
        tracked.subject = email.subject[:2000]
    return tracked_id


events.subscribe("email.logged", link_logged_copy)
