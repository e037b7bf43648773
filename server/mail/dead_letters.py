"""Dead letters: inbound messages that could not be routed, listed and retried by org admins.

A retry routes the stored bytes again to the recipients that failed: when all of them route now,
the dead letter is "resolved"; otherwise it is "retried", with the new reason.
"""

from __future__ import annotations

from sqlalchemy import select

from ..clock import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from .inbound import RouteResult, route_inbound
from .inbound_models import DEAD_LETTER_STATUSES, DeadLetter

PAGE_SIZE = 50


def list_dead_letters(
    org_id: int, status: str | None = None, cursor: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[DeadLetter], int | None]:
    """The org's dead letters, newest first; returns the page and the next cursor (or None)."""
    if status is not None and status not in DEAD_LETTER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(DEAD_LETTER_STATUSES)}", "status")
    query = select(DeadLetter).where(DeadLetter.org_id == org_id)
    if status is not None:
        query = query.where(DeadLetter.status == status)
    if cursor is not None:
        query = query.where(DeadLetter.id < cursor)
    rows = list(db.session.scalars(query.order_by(DeadLetter.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def get_dead_letter(org_id: int | None, dead_letter_id: int) -> DeadLetter:
    """One dead letter of the org (None: any org, for the command line); 404 otherwise."""
    row = db.session.get(DeadLetter, dead_letter_id)
    if row is None or (org_id is not None and row.org_id != org_id):
        raise NotFound("No such dead letter.")
    return row


def retry_dead_letter(org_id: int | None, dead_letter_id: int) -> tuple[DeadLetter, RouteResult]:
    """Route a dead letter again; returns it (resolved or retried) and the routing result."""
    row = get_dead_letter(org_id, dead_letter_id)
    if row.status == "resolved":
        raise Conflict("This dead letter was already resolved.")
    raw, recipients, source = row.raw, list(row.envelope_recipients or []), row.source
    scope = row.org_id if source == "http" else None  # an HTTP delivery stays within its org
    result = route_inbound(raw, recipients, source, org_id=scope, dead_letter_id=row.id)
    row = db.session.get(DeadLetter, dead_letter_id, populate_existing=True)
    row.attempts += 1
    row.last_retry_at = utcnow()
    if result.dead_letter_id is None:
        row.status, row.resolved_at = "resolved", row.last_retry_at
    else:
        row.status = "retried"
    db.session.commit()
    return row, result
