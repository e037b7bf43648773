"""Tracked emails: who may be tracked (TRK-10), the sidebar's options, injection (TRK-1..3).

A message whose To/Cc hold one address is tracked for that recipient (bulk rows are one message
per recipient); with several it is tracked anonymously, times not who (TRK-3). A copy shared by
several recipients is tracked only when every one of them may be tracked (the same pixel reaches
all of them); otherwise it goes untracked with the reason per recipient (TRK-10).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..clock import utcnow
from ..extensions import db
from ..mail.inbound_models import insert_if_absent
from ..mail.models import OutboxMessage
from ..orgs.models import User
from ..orgs.settings import effective_settings, org_setting
from ..records.models import ContactEmail
from ..records.pagination import Page
from .injection import Rewritten, rewrite
from .models import TrackedEmail, TrackedLink, TrackingSenderIp
from .status import my_tracked_emails, tracking_status
from .tokens import click_token, open_token, verify_open

__all__ = [
    "attach_message_id",
    "create_tracked_email",
    "list_tracked_emails",
    "pixel_url",
    "prepare_outbox_content",
    "tracking_options",
    "tracking_status",
]

NOT_ALLOWED = "Tracking is not allowed in this organization."
NO_CONTACT = "Not a contact: recipients who are no contact are not tracked."
NO_BASIS = "No legal basis to process this contact's data (data privacy is on)."
TEXT_ONLY = "A plain-text email cannot be open-tracked; only its links are."
SENDER_IP_REFRESH = timedelta(hours=1)


def _normalized(addresses: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for address in addresses:
        if address and address.strip():
            seen[address.strip().lower()] = None
    return list(seen)


def recipient_reasons(org_id: int, addresses: list[str]) -> dict[str, str | None]:
    """{normalized address: None when it may be tracked, else why not} (TRK-10)."""
    from ..consent.gate import may_track

    wanted = _normalized(addresses)
    contacts = set(
        db.session.scalars(
            select(ContactEmail.email_normalized).where(
                ContactEmail.org_id == org_id, ContactEmail.email_normalized.in_(wanted)
            )
        )
    )
    reasons: dict[str, str | None] = {}
    for address in wanted:
        if address not in contacts:
            reasons[address] = NO_CONTACT
        else:
            reasons[address] = None if may_track(org_id, address) else NO_BASIS
    return reasons


def tracking_options(user: User, recipients: list[str], body_type: str) -> dict:
    """What the sidebar shows for the Track box: value, lock, whether allowed and why not."""
    track = effective_settings(user).get("track_by_default") or {"value": False, "locked": True}
    org_allowed = bool(org_setting(user.org_id, "allow_tracking"))
    reasons = recipient_reasons(user.org_id, recipients) if org_allowed else {}
    refused = {a: r for a, r in reasons.items() if r}
    reason = NOT_ALLOWED if not org_allowed else None
    if refused:
        reason = "; ".join(f"{a}: {r}" for a, r in refused.items())
    allowed = reason is None
    opens_trackable = body_type == "html"
    return {
        "track": {
            "value": bool(track["value"]) and allowed,
            "locked": bool(track["locked"]) or not allowed,
            "allowed": allowed,
            "reason": reason,
        },
        "opens_trackable": opens_trackable,
        "opens_reason": None if opens_trackable else TEXT_ONLY,
        "recipients": {
            a: {"may_track": r is None, "reason": r if org_allowed else NOT_ALLOWED}
            for a, r in (reasons or dict.fromkeys(_normalized(recipients))).items()
        },
    }


def _untracked_reasons(org_id: int, recipients: list[str]) -> dict[str, str] | None:
    if not org_setting(org_id, "allow_tracking"):
        return {"*": NOT_ALLOWED}
    refused = {a: r for a, r in recipient_reasons(org_id, recipients).items() if r}
    return refused or None


def create_tracked_email(
    org_id: int,
    user_id: int | None,
    recipients: list[str],
    subject: str,
    html: str | None,
    text: str | None,
    *,
    outbox_id: int | None = None,
    message_id: str | None = None,
    sender_ip: str | None = None,
    sent_at: datetime | None = None,
) -> tuple[TrackedEmail, Rewritten]:
    """Make the tracked email and its tracked bodies (unchanged when it may not be tracked)."""
    addresses = _normalized(recipients)
    email = TrackedEmail(
        org_id=org_id,
        user_id=user_id,
        outbox_id=outbox_id,
        message_id=(message_id or "").replace("\x00", "").strip().strip("<>") or None,
        subject=(subject or "").replace("\x00", "")[:2000],
        recipient=addresses[0] if len(addresses) == 1 else None,
        recipient_count=len(addresses),
        opens_trackable=bool(html),
        sender_ip=sender_ip,
        sent_at=sent_at or utcnow(),
    )
    refused = _untracked_reasons(org_id, addresses)
    if refused:
        email.tracked, email.untracked_reason = False, refused
    db.session.add(email)
    db.session.flush()
    if refused:
        return email, Rewritten(html=html, text=text)
    return email, _inject(email, html, text)


def _inject(email: TrackedEmail, html: str | None, text: str | None) -> Rewritten:
    from .ingest import cache_links

    base = current_app.config["BASE_URL"].rstrip("/")
    pixel = f"{base}/t/o/{open_token(email.id)}" if html else None
    result = rewrite(html, text, lambda i: f"{base}/t/c/{click_token(email.id, i)}", base, pixel)
    if not email.links:
        for position, url in enumerate(result.urls):
            is_trap = position == result.trap_position
            email.links.append(TrackedLink(position=position, url=url, is_trap=is_trap))
        db.session.flush()
        cache_links(email.id, result.urls)
    return result


def pixel_url(tracked_email_id: int) -> str:
    """The open pixel's URL of a tracked email."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/t/o/{open_token(tracked_email_id)}"


def _row_recipients(row: OutboxMessage, content: dict) -> list[str]:
    listed = [a.get("email", "") for a in (content.get("to") or []) + (content.get("cc") or [])]
    return _normalized(listed) or [row.recipient]


def prepare_outbox_content(row: OutboxMessage, content: dict) -> dict:
    """Send-time content preparer: inject tracking into rows whose content asks for it."""
    if not content.get("track"):
        return content
    email = db.session.scalar(select(TrackedEmail).where(TrackedEmail.outbox_id == row.id))
    if email is None:  # first attempt; a retry reuses the same tracked email and links
        email, result = create_tracked_email(
            row.org_id,
            row.user_id,
            _row_recipients(row, content),
            content.get("subject") or "",
            content.get("html"),
            content.get("text"),
            outbox_id=row.id,
            message_id=row.message_id,
        )
    elif email.tracked:
        result = _inject(email, content.get("html"), content.get("text"))
    else:
        result = Rewritten(html=content.get("html"), text=content.get("text"))
    if email.tracked:
        content["html"], content["text"] = result.html, result.text
    return content


def list_tracked_emails(
    user: User, status: str | None = None, cursor: str | None = None, limit: int | None = None
) -> Page:
    """A page of the user's tracked emails (status dicts), newest sent first (TRK-7)."""
    return my_tracked_emails(user.org_id, user.id, status, cursor, limit)


def note_sender_ip(user_id: int, ip: str | None) -> None:
    """Remember that `user_id` called us from `ip` (their own opens, TRK-5); caller commits."""
    if not ip:
        return
    row = db.session.scalar(
        select(TrackingSenderIp).where(
            TrackingSenderIp.user_id == user_id, TrackingSenderIp.ip == ip
        )
    )
    now = utcnow()
    if row is None:  # two first calls at once: one insert wins, the other does nothing
        insert_if_absent(TrackingSenderIp, user_id=user_id, ip=ip, last_seen_at=now)
    elif row.last_seen_at < now - SENDER_IP_REFRESH:
        row.last_seen_at = now


def _register_preparer() -> None:
    from ..mail.delivery import register_content_preparer

    register_content_preparer(prepare_outbox_content)


_register_preparer()


_PIXEL_TOKEN = re.compile(r"/t/o/([0-9a-z]+\.[A-Za-z0-9_-]+)")


def attach_message_id(org_id: int, html: str | None, message_id: str | None) -> int | None:
    """Give the tracked email whose pixel is in `html` (a logged copy of a message tracked through
    /api/tracking/prepare) its Message-ID, so status and timeline find it; caller commits."""
    if not html or not message_id:
        return None
    match = _PIXEL_TOKEN.search(html)
    tracked_email_id = verify_open(match.group(1)) if match else None
    email = db.session.get(TrackedEmail, tracked_email_id) if tracked_email_id else None
    if email is None or email.org_id != org_id:
        return None
    if not email.message_id:
        email.message_id = message_id.replace("\x00", "").strip().strip("<>") or None
    return email.id
