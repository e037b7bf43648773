"""Admin of an org's subscription types (GDPR-2, GDPR-7): list, create, rename, archive.

Types are never deleted (contacts' statuses and the audit name them): archiving hides a type
from the preference page and from new choices. The built-in one-to-one type can be relabelled
but not renamed nor archived.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from .models import ONE_TO_ONE, SubscriptionType
from .service import create_subscription_type, one_to_one_type

__all__ = ["archive_type", "create_subscription_type", "list_types", "rename_type"]


def list_types(org_id: int, include_archived: bool = False) -> list[SubscriptionType]:
    """The org's subscription types (the built-in one first, then by name)."""
    one_to_one_type(org_id)
    db.session.commit()
    query = select(SubscriptionType).where(SubscriptionType.org_id == org_id)
    if not include_archived:
        query = query.where(SubscriptionType.archived_at.is_(None))
    order = (SubscriptionType.is_one_to_one.desc(), SubscriptionType.name)
    return list(db.session.scalars(query.order_by(*order)))


def get_type(org_id: int, type_id: int) -> SubscriptionType:
    """One subscription type of the org; 404 otherwise."""
    found = db.session.get(SubscriptionType, type_id)
    if found is None or found.org_id != org_id:
        raise NotFound(f"No subscription type {type_id} in your organization.", field="type_id")
    return found


def rename_type(
    org_id: int, type_id: int, name: str | None = None, label: str | None = None
) -> SubscriptionType:
    """Change a type's name and/or label (the one-to-one type keeps its name)."""
    row = get_type(org_id, type_id)
    if name is not None:
        name = name.strip()
        if row.is_one_to_one and name != ONE_TO_ONE:
            raise ValidationFailed("The built-in one-to-one type keeps its name.", field="name")
        if not name or (name == ONE_TO_ONE and not row.is_one_to_one):
            raise ValidationFailed("Give a name (not the built-in one).", field="name")
        row.name = name
    if label is not None:
        if not label.strip():
            raise ValidationFailed("The label cannot be empty.", field="label")
        row.label = label.strip()
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"A subscription type {name!r} exists already.", field="name") from None
    return row


def archive_type(org_id: int, type_id: int) -> SubscriptionType:
    """Archive a type (kept for the history); the built-in one-to-one type cannot be."""
    row = get_type(org_id, type_id)
    if row.is_one_to_one:
        raise Conflict("The built-in one-to-one type cannot be archived.", field="type_id")
    if row.archived_at is None:
        row.archived_at = utcnow()
        db.session.commit()
    return row
