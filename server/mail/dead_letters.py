"""Dead letters: inbound messages that could not be routed, listed and retried by org admins.

A retry routes the stored bytes again to the recipients that failed: when all of them route now,
the dead letter is "resolved"; otherwise it is "retried", with the new reason. Dead letters whose
org is unknown (mail to no route of ours) are no admin's: operators list, show, retry and purge
them with `liaison inbound dead-letters` (server/mail/inbound_cli.py), through the functions
taking an `org` scope here ("none": no org, "all", or an org id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from ..clock import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from . import dead_letter_parts  # noqa: F401  (the data subject part, GDPR-8)
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


def _scoped(query, org: str | int):
    """`query` limited to an operator's scope: "none" (no org), "all", or one org id."""
    if org == "none":
        return query.where(DeadLetter.org_id.is_(None))
    if org == "all":
        return query
    return query.where(DeadLetter.org_id == int(org))


def operator_dead_letters(
    org: str | int = "none", status: str | None = None, limit: int = PAGE_SIZE
) -> list[DeadLetter]:
    """Dead letters in an operator's scope (default: those of no org), newest first."""
    if status is not None and status not in DEAD_LETTER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(DEAD_LETTER_STATUSES)}", "status")
    query = _scoped(select(DeadLetter), org)
    if status is not None:
        query = query.where(DeadLetter.status == status)
    return list(db.session.scalars(query.order_by(DeadLetter.id.desc()).limit(limit)))


def purge_dead_letters(
    org: str | int = "none", status: str | None = None, before: datetime | None = None
) -> int:
    """Delete the dead letters in scope (of a status, received before a time); commits; how many."""
    if status is not None and status not in DEAD_LETTER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(DEAD_LETTER_STATUSES)}", "status")
    statement = _scoped(delete(DeadLetter), org)
    if status is not None:
        statement = statement.where(DeadLetter.status == status)
    if before is not None:
        statement = statement.where(DeadLetter.received_at < before)
    count = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count or 0
