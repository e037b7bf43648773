"""A record's timeline (REC-6, LOG-9): every registered source merged, newest first, by cursor.

Sources are registered in `server.emails.timeline_sources`; this module registers the "email"
source (logged emails associated with the records) and merges them all. A company's timeline
covers the company and its contacts (primary company or associated), each email once however
many of those records it is associated with. Soft-deleted emails are hidden. Pinned emails come
first on the first page (only there) and are left out of the dated stream, so none is shown twice.

The cursor is opaque: the (at, key) of the last entry shown, encoded by
`server.records.pagination.encode_cursor`; anything else is a 400 on "cursor". A page costs a
fixed number of queries: the record, the company's contacts, per source its page, and for the
email source the emails with their associations in one more.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime

from sqlalchemy import and_, false, func, or_, select, true, union
from sqlalchemy.orm import selectinload

from ..errors import BadRequest
from ..extensions import db
from ..orgs.models import User
from ..records.associations import require_record
from ..records.models import Association, Contact
from ..records.pagination import check_limit, decode_cursor, encode_cursor
from .models import LoggedEmail, LoggedEmailAssociation
from .privacy import email_view
from .timeline_sources import (
    TIMELINE_SOURCES,
    Cursor,
    RecordRef,
    TimelineEntry,
    register_timeline_source,
)

MAX_PINNED = 20
EMAIL_KEY = "email:"
KEY_DIGITS = 10  # ids zero-padded so the key's text order is the id order


def email_key(email_id: int) -> str:
    """The timeline key of a logged email, e.g. "email:0000000012"."""
    return f"{EMAIL_KEY}{email_id:0{KEY_DIGITS}d}"


def email_at():
    """The SQL expression of an email's place in time: sent, else logged."""
    return func.coalesce(LoggedEmail.sent_at, LoggedEmail.created_at)


def visible_emails(org_id: int):
    """The org's emails that are not soft-deleted."""
    return and_(LoggedEmail.org_id == org_id, LoggedEmail.deleted_at.is_(None))


def email_view_for(email: LoggedEmail, viewer: User | None) -> dict:
    """What `viewer` may see of the email (the privacy view every answer uses)."""
    return email_view(email, viewer)


def _records_clause(org_id: int, records: list[RecordRef]):
    by_type: dict[str, list[int]] = {}
    for kind, record_id in records:
        by_type.setdefault(kind, []).append(record_id)
    if not by_type:
        return false()
    return and_(
        LoggedEmailAssociation.org_id == org_id,
        or_(
            *(
                and_(
                    LoggedEmailAssociation.record_type == kind,
                    LoggedEmailAssociation.record_id.in_(ids),
                )
                for kind, ids in by_type.items()
            )
        ),
    )


def _before_clause(before: Cursor | None):
    """Emails strictly after `before` in descending (at, key) order."""
    if before is None:
        return true()
    at, key = before
    if key.startswith(EMAIL_KEY):
        tie = LoggedEmail.id < int(key[len(EMAIL_KEY) :] or 0)
    else:
        tie = true() if key > EMAIL_KEY else false()
    return or_(email_at() < at, and_(email_at() == at, tie))


def _emails_statement(org_id: int, records: list[RecordRef], pinned: bool):
    associated = select(LoggedEmailAssociation.email_id).where(_records_clause(org_id, records))
    state = LoggedEmail.pinned_at.is_not(None) if pinned else LoggedEmail.pinned_at.is_(None)
    return (
        select(LoggedEmail, email_at().label("at"))
        .where(visible_emails(org_id), state, LoggedEmail.id.in_(associated))
        .options(selectinload(LoggedEmail.associations))
    )


def jsonable(value):
    """`value` with datetimes as ISO 8601 text, so any view renders as JSON the same way."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _entry(email: LoggedEmail, at: datetime, viewer: User | None) -> TimelineEntry:
    data = jsonable(email_view_for(email, viewer))
    data["pinned"] = email.pinned_at is not None
    data.setdefault(
        "associations", [{"type": a.record_type, "id": a.record_id} for a in email.associations]
    )
    return TimelineEntry("email", at, email_key(email.id), data)


# The user a page is built for: sources take no viewer, but the email view depends on it.
_VIEWER: ContextVar[User | None] = ContextVar("timeline_viewer", default=None)


def email_source(
    org_id: int, records: list[RecordRef], before: Cursor | None, limit: int
) -> list[TimelineEntry]:
    """The timeline source of logged emails (not pinned, not deleted), newest first."""
    statement = (
        _emails_statement(org_id, records, pinned=False)
        .where(_before_clause(before))
        .order_by(email_at().desc(), LoggedEmail.id.desc())
        .limit(limit)
    )
    viewer = _VIEWER.get()
    return [_entry(email, at, viewer) for email, at in db.session.execute(statement)]


register_timeline_source(email_source)


def pinned_entries(org_id: int, records: list[RecordRef], viewer: User) -> list[TimelineEntry]:
    """The records' pinned emails, most recently pinned first (at most MAX_PINNED)."""
    statement = (
        _emails_statement(org_id, records, pinned=True)
        .order_by(LoggedEmail.pinned_at.desc(), LoggedEmail.id.desc())
        .limit(MAX_PINNED)
    )
    return [_entry(email, at, viewer) for email, at in db.session.execute(statement)]


def timeline_records(org_id: int, record_type: str, record_id: int) -> list[RecordRef]:
    """The record (404 when not in the org) and, for a company, its contacts."""
    require_record(org_id, record_type, record_id, field="record_id")
    records: list[RecordRef] = [(record_type, record_id)]
    if record_type == "company":
        primary = select(Contact.id).where(
            Contact.org_id == org_id, Contact.primary_company_id == record_id
        )
        associated = select(Association.b_id).where(
            Association.org_id == org_id,
            Association.a_type == "company",
            Association.a_id == record_id,
            Association.b_type == "contact",
        )
        ids = db.session.scalars(union(primary, associated)).all()
        records += [("contact", contact_id) for contact_id in sorted(set(ids))]
    return records


def _decode(cursor: str | None) -> Cursor | None:
    values = decode_cursor(cursor, [datetime, str])
    if values is None:
        return None
    at, key = values
    if at.tzinfo is None or not key:
        raise BadRequest("The cursor is not valid; start again without it.", field="cursor")
    return at, key


def _sort_key(entry: TimelineEntry) -> tuple[datetime, str]:
    return entry.at, entry.key


def build_timeline(
    viewer: User, record_type: str, record_id: int, cursor: str | None, limit: int | None
) -> dict:
    """One page of a record's timeline: {"items": [entry dicts], "next_cursor"}."""
    limit = check_limit(limit)
    before = _decode(cursor)
    records = timeline_records(viewer.org_id, record_type, record_id)
    pinned = pinned_entries(viewer.org_id, records, viewer) if before is None else []
    token = _VIEWER.set(viewer)
    try:
        merged: dict[str, TimelineEntry] = {}
        for source in list(TIMELINE_SOURCES):
            for entry in source(viewer.org_id, records, before, limit + 1):
                merged.setdefault(entry.key, entry)
    finally:
        _VIEWER.reset(token)
    ordered = sorted(merged.values(), key=_sort_key, reverse=True)
    page = ordered[:limit]
    next_cursor = encode_cursor([page[-1].at, page[-1].key]) if len(ordered) > limit else None
    items = [_as_dict(e, pinned=True) for e in pinned] + [_as_dict(e) for e in page]
    return {"items": items, "next_cursor": next_cursor}


def _as_dict(entry: TimelineEntry, pinned: bool = False) -> dict:
    return {
        "kind": entry.kind,
        "at": entry.at,
        "key": entry.key,
        "pinned": pinned,
        "data": entry.data,
    }
