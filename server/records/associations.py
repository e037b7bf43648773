"""Associations between any two records of one org (REC-2), and the record-type registry.

Pairs are stored once in canonical (type, id) order (see `Association`). Creating a pair that
already exists is not an error: it answers 200 with the existing association (idempotent, so
add-ins that re-send a log or a tick do not have to look first); a new pair answers 201.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .models import Association, Company, Contact, CustomRecord, Deal, Ticket
from .pagination import Page, paginate

RECORD_MODELS: dict[str, type] = {
    "company": Company,
    "contact": Contact,
    "custom": CustomRecord,
    "deal": Deal,
    "ticket": Ticket,
}


@dataclass
class AssociatedRecord:
    """One record on the other side of an association, with what a list needs to show it."""

    association_id: int
    type: str
    id: int
    display_name: str
    custom_type_id: int | None
    created_at: datetime


def check_type(record_type: str, field: str = "type") -> str:
    """`record_type` when it is a known record type name; 422 otherwise."""
    if record_type not in RECORD_MODELS:
        raise ValidationFailed(
            f"Unknown record type {record_type!r}; use one of {', '.join(RECORD_MODELS)}.",
            field=field,
        )
    return record_type


def display_name(record_type: str, record: Any) -> str:
    """The label a list shows for a record of any type."""
    if record_type == "contact":
        return record.display_name
    if record_type == "company":
        return record.name
    if record_type == "deal":
        return record.name
    if record_type == "ticket":
        return record.subject
    object_type = record.object_type
    value = (record.properties or {}).get(object_type.display_property or "")
    return str(value) if value not in (None, "") else f"{object_type.label} {record.id}"


def require_record(org_id: int, record_type: str, record_id: int, field: str = "id") -> Any:
    """The record of `org_id` with that type and id; 404 (naming `field`) otherwise."""
    model = RECORD_MODELS[check_type(record_type)]
    record = db.session.scalar(select(model).where(model.id == record_id, model.org_id == org_id))
    if record is None:
        raise NotFound(f"No {record_type} {record_id} in your organization.", field=field)
    return record


def _canonical(left: tuple[str, int], right: tuple[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted([left, right]))


def _find(org_id: int, left: tuple[str, int], right: tuple[str, int]) -> Association | None:
    (a_type, a_id), (b_type, b_id) = _canonical(left, right)
    return db.session.scalar(
        select(Association).where(
            Association.org_id == org_id,
            Association.a_type == a_type,
            Association.a_id == a_id,
            Association.b_type == b_type,
            Association.b_id == b_id,
        )
    )


def ensure_association(
    org_id: int, left: tuple[str, int], right: tuple[str, int], created_by_id: int | None = None
) -> Association:
    """Add the pair to the session unless it exists (no commit: part of the caller's change)."""
    existing = _find(org_id, left, right)
    if existing is not None:
        return existing
    (a_type, a_id), (b_type, b_id) = _canonical(left, right)
    row = Association(
        org_id=org_id, a_type=a_type, a_id=a_id, b_type=b_type, b_id=b_id,
        created_by_id=created_by_id,
    )  # fmt: skip
    db.session.add(row)
    return row


def create_association(
    user: User, a_type: str, a_id: int, b_type: str, b_id: int
) -> tuple[Association, bool]:
    """Associate two records of the user's org; returns (association, created?)."""
    require_record(user.org_id, a_type, a_id, field="a")
    require_record(user.org_id, b_type, b_id, field="b")
    if (a_type, a_id) == (b_type, b_id):
        raise ValidationFailed("A record cannot be associated with itself.", field="b")
    existing = _find(user.org_id, (a_type, a_id), (b_type, b_id))
    if existing is not None:
        return existing, False
    row = ensure_association(user.org_id, (a_type, a_id), (b_type, b_id), user.id)
    try:
        db.session.commit()
    except IntegrityError:  # created by a concurrent request since we looked
        db.session.rollback()
        existing = _find(user.org_id, (a_type, a_id), (b_type, b_id))
        if existing is None:
            raise
        return existing, False
    return row, True


def get_association(org_id: int, association_id: int) -> Association:
    """One association of the org; 404 otherwise."""
    row = db.session.scalar(
        select(Association).where(Association.id == association_id, Association.org_id == org_id)
    )
    if row is None:
        raise NotFound(f"No association {association_id}.", field="association_id")
    return row


def delete_association(user: User, association_id: int) -> None:
    """Remove one association of the user's org."""
    db.session.delete(get_association(user.org_id, association_id))
    db.session.commit()


def delete_associations_of(org_id: int, record_type: str, ids: Iterable[int] | Any) -> None:
    """Delete every association touching these records (no commit: part of a record delete).

    `ids` is a list of ids or a scalar subquery selecting them.
    """
    in_ids = list(ids) if isinstance(ids, list | tuple | set) else ids
    db.session.execute(
        delete(Association)
        .where(
            Association.org_id == org_id,
            or_(
                and_(Association.a_type == record_type, Association.a_id.in_(in_ids)),
                and_(Association.b_type == record_type, Association.b_id.in_(in_ids)),
            ),
        )
        .execution_options(synchronize_session=False)
    )


def _side_filter(record_type: str, record_id: int, to_type: str | None):
    """Association rows touching (record_type, record_id), the other side of `to_type`."""
    as_a = and_(Association.a_type == record_type, Association.a_id == record_id)
    as_b = and_(Association.b_type == record_type, Association.b_id == record_id)
    if to_type is None:
        return or_(as_a, as_b)
    if to_type == record_type:
        return or_(
            and_(as_a, Association.b_type == to_type), and_(as_b, Association.a_type == to_type)
        )
    if record_type < to_type:  # canonical order: the record is on the a side
        return and_(as_a, Association.b_type == to_type)
    return and_(as_b, Association.a_type == to_type)


def _load_records(org_id: int, wanted: dict[str, set[int]]) -> dict[tuple[str, int], Any]:
    found: dict[tuple[str, int], Any] = {}
    for record_type, ids in wanted.items():
        model = RECORD_MODELS[record_type]
        stmt = select(model).where(model.org_id == org_id, model.id.in_(ids))
        if record_type == "contact":
            stmt = stmt.options(selectinload(Contact.emails))
        elif record_type == "custom":
            stmt = stmt.options(selectinload(CustomRecord.object_type))
        for record in db.session.scalars(stmt):
            found[(record_type, record.id)] = record
    return found


def list_associations(
    org_id: int,
    record_type: str,
    record_id: int,
    to_type: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page:
    """The records associated with one record, newest association first, paginated."""
    check_type(record_type)
    if to_type is not None:
        check_type(to_type, field="type")
    require_record(org_id, record_type, record_id, field=f"{record_type}_id")
    stmt = select(Association).where(
        Association.org_id == org_id, _side_filter(record_type, record_id, to_type)
    )
    page = paginate(stmt, [Association.id], cursor, limit)
    others: list[tuple[Association, str, int]] = []
    for row in page.items:
        if (row.a_type, row.a_id) == (record_type, record_id):
            others.append((row, row.b_type, row.b_id))
        else:
            others.append((row, row.a_type, row.a_id))
    wanted: dict[str, set[int]] = {}
    for _, other_type, other_id in others:
        wanted.setdefault(other_type, set()).add(other_id)
    records = _load_records(org_id, wanted)
    items = []
    for row, other_type, other_id in others:
        record = records.get((other_type, other_id))
        if record is None:  # a dangling pair; deletes remove associations, so only by hand
            continue
        items.append(
            AssociatedRecord(
                association_id=row.id,
                type=other_type,
                id=other_id,
                display_name=display_name(other_type, record),
                custom_type_id=record.type_id if other_type == "custom" else None,
                created_at=row.created_at,
            )
        )
    return Page(items=items, next_cursor=page.next_cursor)


def associated_ids(
    org_id: int, from_type: str, from_ids: Iterable[int], to_type: str
) -> dict[int, list[int]]:
    """For each of `from_ids`, the ids of associated `to_type` records, in one query.

    Ids come in association order (oldest first). Same-type pairs are searched on both sides.
    """
    check_type(from_type, field="from_type")
    check_type(to_type, field="to_type")
    wanted = list(dict.fromkeys(from_ids))
    result: dict[int, list[int]] = {i: [] for i in wanted}
    if not wanted:
        return result
    cols = (Association.a_id, Association.b_id)
    stmt = select(*cols).where(Association.org_id == org_id).order_by(Association.id)
    if from_type == to_type:
        stmt = stmt.where(
            Association.a_type == from_type,
            Association.b_type == to_type,
            or_(Association.a_id.in_(wanted), Association.b_id.in_(wanted)),
        )
    elif from_type < to_type:
        stmt = stmt.where(
            Association.a_type == from_type,
            Association.a_id.in_(wanted),
            Association.b_type == to_type,
        )
    else:
        stmt = stmt.where(
            Association.b_type == from_type,
            Association.b_id.in_(wanted),
            Association.a_type == to_type,
        )
    for a_id, b_id in db.session.execute(stmt):
        if from_type <= to_type and a_id in result:
            result[a_id].append(b_id)
        if from_type >= to_type and b_id in result:
            result[b_id].append(a_id)
    return result
