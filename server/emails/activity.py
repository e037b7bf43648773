"""A logged email is activity on every record it is associated with: their `last_activity_at`
moves forward to the email's time (never back), which list pages sort by and views filter on
(REC-4 "email engagement"). The record's `updated_at` stays: logging an email edits no record."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, update

from .. import events
from ..extensions import db
from ..records.associations import RECORD_MODELS
from .models import LoggedEmail, LoggedEmailAssociation


def note_email_activity(org_id: int, email_id: int, **_payload) -> int:
    """`email.logged` subscriber: the associated records' last activity; returns rows moved."""
    email = db.session.get(LoggedEmail, email_id)
    if email is None:
        return 0
    at = email.sent_at or email.created_at
    by_type: dict[str, list[int]] = defaultdict(list)
    pairs = db.session.execute(
        select(LoggedEmailAssociation.record_type, LoggedEmailAssociation.record_id).where(
            LoggedEmailAssociation.email_id == email_id
        )
    )
    for record_type, record_id in pairs:
        by_type[record_type].append(record_id)
    moved = 0
    for record_type, ids in by_type.items():
        model = RECORD_MODELS.get(record_type)
        if model is None:
            continue
        moved += db.session.execute(
            update(model)
            .where(
                model.org_id == org_id,
                model.id.in_(ids),
                model.last_activity_at.is_(None) | (model.last_activity_at < at),
            )
            .values(last_activity_at=at, updated_at=model.updated_at)
            .execution_options(synchronize_session=False)
        ).rowcount
    return moved


events.subscribe("email.logged", note_email_activity)
