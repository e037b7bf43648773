"""Tracking's share of other domains: the "tracking" timeline kind (TRK-5) and the data subject
part (GDPR-8: a contact's per-recipient tracked emails, their links and events).

The timeline shows human opens and clicks of tracked emails whose logged copy (same Message-ID)
is associated with the records.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, false, or_, select, true

from ..emails.models import LoggedEmail, LoggedEmailAssociation
from ..emails.timeline_sources import (
    Cursor,
    RecordRef,
    TimelineEntry,
    register_timeline_source,
)
from ..extensions import db
from .models import HUMAN, TrackedEmail, TrackedLink, TrackingEvent
from .status import event_dict, status_dict

KEY = "tracking:"


def _key(event_id: int) -> str:
    return f"{KEY}{event_id:010d}"


def _before(before: Cursor | None):
    if before is None:
        return true()
    at, key = before
    if key.startswith(KEY) and key[len(KEY) :].isdigit():
        same_at = TrackingEvent.id < int(key[len(KEY) :])
    else:
        same_at = true() if key > KEY else false()
    return or_(TrackingEvent.at < at, and_(TrackingEvent.at == at, same_at))


def tracking_source(
    org_id: int, records: list[RecordRef], before: Cursor | None, limit: int
) -> list[TimelineEntry]:
    """Human opens and clicks of emails associated with the records, newest first."""
    if not records:
        return []
    by_record = or_(
        *(
            and_(
                LoggedEmailAssociation.record_type == kind,
                LoggedEmailAssociation.record_id == record_id,
            )
            for kind, record_id in records
        )
    )
    stmt = (
        select(TrackingEvent, TrackedEmail, LoggedEmail.id)
        .join(TrackedEmail, TrackedEmail.id == TrackingEvent.tracked_email_id)
        .join(
            LoggedEmail,
            and_(
                LoggedEmail.org_id == org_id,
                LoggedEmail.message_id == TrackedEmail.message_id,
                LoggedEmail.deleted_at.is_(None),
            ),
        )
        .where(
            TrackingEvent.org_id == org_id,
            TrackingEvent.classification == HUMAN,
            exists().where(
                LoggedEmailAssociation.email_id == LoggedEmail.id,
                LoggedEmailAssociation.org_id == org_id,
                by_record,
            ),
            _before(before),
        )
        .order_by(TrackingEvent.at.desc(), TrackingEvent.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="tracking",
            at=event.at,
            key=_key(event.id),
            data={**event_dict(event, email), "email_id": email_id},
        )
        for event, email, email_id in db.session.execute(stmt)
    ]


def _contact_emails(org_id: int, contact) -> list[TrackedEmail]:
    addresses = [e.email_normalized for e in contact.emails]
    if not addresses:
        return []
    return list(
        db.session.scalars(
            select(TrackedEmail).where(
                TrackedEmail.org_id == org_id, TrackedEmail.recipient.in_(addresses)
            )
        )
    )


def export_tracking(org_id: int, contact) -> list[dict]:
    """The contact's tracked emails with their status and raw events."""
    result = []
    for email in _contact_emails(org_id, contact):
        events = db.session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.tracked_email_id == email.id)
            .order_by(TrackingEvent.id)
        )
        result.append(
            {
                **status_dict(email),
                "events": [
                    {**event_dict(e, email), "ip": e.ip, "user_agent": e.user_agent} for e in events
                ],
            }
        )
    return result


def erase_tracking(org_id: int, contact) -> dict:
    """Delete the contact's tracked emails, links and events (caller's transaction)."""
    ids = [email.id for email in _contact_emails(org_id, contact)]
    if not ids:
        return {"tracked_emails": 0, "tracking_events": 0}
    events = db.session.execute(
        delete(TrackingEvent).where(TrackingEvent.tracked_email_id.in_(ids))
    ).rowcount
    db.session.execute(delete(TrackedLink).where(TrackedLink.tracked_email_id.in_(ids)))
    db.session.execute(delete(TrackedEmail).where(TrackedEmail.id.in_(ids)))
    db.session.expire_all()
    return {"tracked_emails": len(ids), "tracking_events": events}


def _register() -> None:
    register_timeline_source(tracking_source)
    try:
        from ..consent.data_subject import register_data_subject_part
    except ImportError:  # the registry is not there yet
        return
    register_data_subject_part("tracking", export_tracking, erase_tracking)


_register()
