"""Consent changes on a contact's timeline (REC-6, GDPR-5): the "consent" timeline source.

Each consent audit entry of the contacts in `records` (a company's timeline passes its contacts
too) is one entry, key "consent:<id zero-padded>", at the entry's time.
"""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select, true

from ..emails.timeline_sources import Cursor, RecordRef, TimelineEntry, register_timeline_source
from ..extensions import db
from .models import ConsentAudit

KEY = "consent:"
KEY_DIGITS = 10


def consent_key(audit_id: int) -> str:
    """The timeline key of a consent audit entry."""
    return f"{KEY}{audit_id:0{KEY_DIGITS}d}"


def _before(before: Cursor | None):
    if before is None:
        return true()
    at, key = before
    if key.startswith(KEY):
        tie = ConsentAudit.id < int(key[len(KEY) :] or 0)
    else:
        tie = true() if key > KEY else false()
    return or_(ConsentAudit.at < at, and_(ConsentAudit.at == at, tie))


def consent_source(
    org_id: int, records: list[RecordRef], before: Cursor | None, limit: int
) -> list[TimelineEntry]:
    """The contacts' consent history entries, newest first."""
    contact_ids = [record_id for record_type, record_id in records if record_type == "contact"]
    if not contact_ids:
        return []
    rows = db.session.scalars(
        select(ConsentAudit)
        .where(
            ConsentAudit.org_id == org_id,
            ConsentAudit.contact_id.in_(contact_ids),
            _before(before),
        )
        .order_by(ConsentAudit.at.desc(), ConsentAudit.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            "consent",
            row.at,
            consent_key(row.id),
            {
                "id": row.id,
                "contact_id": row.contact_id,
                "action": row.action,
                "basis": row.basis,
                "reason": row.reason,
                "surface": row.surface,
                "actor_id": row.actor_id,
                "details": row.details or {},
            },
        )
        for row in rows
    ]


register_timeline_source(consent_source)
