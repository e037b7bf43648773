"""Status of tracked emails (TRK-5), my tracked emails by status (TRK-7), the activity feed.

Counts and states use human events only; machine counts are shown beside them. Who opened
(TRK-3, TRK-4): a per-recipient message's opens are reported as "opened by someone with access
to the message" (the recipient, or anyone they forwarded it to: the pixel cannot tell them
apart); an anonymous (several recipients) message's as "opened by one of its N recipients".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import BadRequest, ValidationFailed
from ..extensions import db
from ..mail.models import OutboxMessage
from ..records.pagination import Page, decode_cursor, paginate
from .models import HUMAN, TrackedEmail, TrackedLink, TrackingEvent

STATUSES = ("opened", "unopened", "clicked", "unclicked")


def _iso(value):
    return value.isoformat() if value is not None else None


def who_text(email: TrackedEmail) -> str:
    """Whom an open or click of this email can be attributed to (TRK-3, TRK-4)."""
    if email.recipient:
        return (
            f"Someone with access to the message sent to {email.recipient} "
            "(the recipient or anyone they forwarded it to)"
        )
    return f"One of the {email.recipient_count} recipients (who is not known)"


NOT_SENT = ("failed", "skipped")  # outbox states of a message that never went out
PENDING = ("queued", "sending")


def _outbox_states(emails: list[TrackedEmail]) -> dict[int, str]:
    """The outbox state of each email sent through our outbox, in one query."""
    ids = [e.outbox_id for e in emails if e.outbox_id]
    if not ids:
        return {}
    rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.state).where(OutboxMessage.id.in_(ids))
    )
    return dict(rows.all())


def state_of(email: TrackedEmail, outbox_state: str | None = None) -> str:
    """untracked | queued | not_sent | sent | opened | clicked (human events only); an email of
    our outbox is "queued" until its row is sent and "not_sent" when the row failed or was
    skipped (it was tracked when composed, before the transport's answer)."""
    if not email.tracked:
        return "untracked"
    if outbox_state in NOT_SENT:
        return "not_sent"
    if outbox_state in PENDING:
        return "queued"
    if email.clicks_human:
        return "clicked"
    return "opened" if email.opens_human else "sent"


def _link(link: TrackedLink) -> dict:
    return {
        "position": link.position,
        "url": link.url,
        "clicks": {"human": link.clicks_human, "machine": link.clicks_machine},
        "first_click_at": _iso(link.first_click_at),
        "last_click_at": _iso(link.last_click_at),
    }


def status_dict(email: TrackedEmail, outbox_state: str | None = None) -> dict:
    """The JSON status of one tracked email (`outbox_state`: its outbox row's, if any)."""
    return {
        "tracked_email_id": email.id,
        "state": state_of(email, outbox_state),
        "tracked": email.tracked,
        "untracked_reason": email.untracked_reason,
        "subject": email.subject,
        "message_id": email.message_id,
        "anonymous": email.recipient is None,
        "recipient": email.recipient,
        "recipient_count": email.recipient_count,
        "attribution": who_text(email),
        "opens_trackable": email.opens_trackable,
        "sent_at": _iso(email.sent_at),
        "opens": {
            "human": email.opens_human,
            "machine": email.opens_machine,
            "first_at": _iso(email.first_open_at),
            "last_at": _iso(email.last_open_at),
        },
        "clicks": {
            "human": email.clicks_human,
            "machine": email.clicks_machine,
            "first_at": _iso(email.first_click_at),
            "last_at": _iso(email.last_click_at),
            "links": [_link(link) for link in email.links if not link.is_trap],
        },
    }


def tracking_status(
    org_id: int, message_id: str | None = None, tracked_email_id: int | None = None
) -> dict | None:
    """The status of a tracked email by Message-ID (with or without <>) or id; None if none."""
    stmt = select(TrackedEmail).where(TrackedEmail.org_id == org_id)
    if tracked_email_id is not None:
        stmt = stmt.where(TrackedEmail.id == tracked_email_id)
    elif message_id:
        wanted = message_id.replace("\x00", "").strip().strip("<>")
        stmt = stmt.where(TrackedEmail.message_id == wanted)
    else:
        return None
    email = db.session.scalars(stmt.order_by(TrackedEmail.id.desc()).limit(1)).first()
    if email is None:
        return None
    return status_dict(email, _outbox_states([email]).get(email.outbox_id))


# The order of "my tracked emails" (TRK-7): newest sent first, the id breaking ties, so keyset
# pages neither repeat nor skip emails that share a sent time. `sent_at` is never NULL: it is set
# when the tracked email is made, i.e. when the message is composed to go out (the add-in's
# prepare call just before sending, the outbox's first send attempt). A message that never went
# out (queued, not_sent) therefore sorts by the time it was composed, which is its creation time.
# Read in the order of ix_tracked_emails_user_sent (org_id, user_id, sent_at, id), no sort.
EMAIL_ORDER = (TrackedEmail.sent_at, TrackedEmail.id)


def _check_email_cursor(cursor: str | None) -> None:
    """A cursor of the tracked emails list must hold an aware time and an id; 400 otherwise."""
    key = decode_cursor(cursor, [datetime, int])
    if key is not None and key[0].tzinfo is None:
        raise BadRequest("The cursor is not valid; start again without it.", field="cursor")


def my_tracked_emails(
    org_id: int, user_id: int, status: str | None, cursor: str | None, limit: int | None
) -> Page:
    """The user's tracked emails, newest sent first (id breaks ties), filtered by status."""
    _check_email_cursor(cursor)
    stmt = (
        select(TrackedEmail)
        .where(
            TrackedEmail.org_id == org_id,
            TrackedEmail.user_id == user_id,
            TrackedEmail.tracked.is_(True),
        )
        .options(selectinload(TrackedEmail.links))
    )
    if status == "opened":
        stmt = stmt.where(TrackedEmail.opens_human > 0)
    elif status == "unopened":  # sent and not opened: not a message that never went out
        never_went = select(OutboxMessage.id).where(OutboxMessage.state.in_(NOT_SENT + PENDING))
        stmt = stmt.where(
            TrackedEmail.opens_human == 0,
            TrackedEmail.opens_trackable.is_(True),
            TrackedEmail.outbox_id.is_(None) | TrackedEmail.outbox_id.not_in(never_went),
        )
    elif status == "clicked":
        stmt = stmt.where(TrackedEmail.clicks_human > 0)
    elif status == "unclicked":
        stmt = stmt.where(TrackedEmail.clicks_human == 0)
    elif status:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}.", field="status")
    page = paginate(stmt, list(EMAIL_ORDER), cursor, limit)
    states = _outbox_states(page.items)
    page.items = [status_dict(email, states.get(email.outbox_id)) for email in page.items]
    return page


def activity(
    org_id: int, user_id: int, cursor: str | None, limit: int | None, include_machine: bool
) -> Page:
    """Opens and clicks of the user's tracked emails, newest first (human only by default)."""
    stmt = (
        select(TrackingEvent)
        .join(TrackedEmail, TrackedEmail.id == TrackingEvent.tracked_email_id)
        .where(TrackedEmail.org_id == org_id, TrackedEmail.user_id == user_id)
    )
    if not include_machine:
        stmt = stmt.where(TrackingEvent.classification == HUMAN)
    page = paginate(stmt, [TrackingEvent.id], cursor, limit)
    ids = {event.tracked_email_id for event in page.items}
    emails = {
        e.id: e
        for e in db.session.scalars(
            select(TrackedEmail)
            .where(TrackedEmail.id.in_(ids))
            .options(selectinload(TrackedEmail.links))
        )
    }
    page.items = [event_dict(event, emails[event.tracked_email_id]) for event in page.items]
    return page


def event_dict(event: TrackingEvent, email: TrackedEmail) -> dict:
    """One open or click as the feed and the timeline show it."""
    url = None
    if event.link_index is not None:
        url = next((link.url for link in email.links if link.position == event.link_index), None)
    return {
        "id": event.id,
        "kind": event.kind,
        "at": _iso(event.at),
        "classification": event.classification,
        "human": event.classification == HUMAN,
        "tracked_email_id": email.id,
        "subject": email.subject,
        "url": url,
        "attribution": who_text(email),
    }
