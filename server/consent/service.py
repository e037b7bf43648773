"""Consent changes, each audited with who, when and which surface (GDPR-2, GDPR-3, GDPR-5).

Every function takes plain values, scopes by org_id (another org's contact is a 404), writes its
change and its ConsentAudit row in one transaction, and commits. The audit is only ever inserted.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..records.pagination import Page, check_limit, decode_cursor, encode_cursor
from ..records.service import get_contact
from .models import (
    BASIS_TYPES,
    ONE_TO_ONE,
    PURPOSES,
    SUBSCRIPTION_STATUSES,
    SURFACES,
    SYSTEM_SURFACES,
    ConsentAudit,
    ContactSubscription,
    GlobalOptOut,
    LegalBasis,
    OneTimeBasis,
    SubscriptionType,
)

MIN_REASON_LENGTH = 10
ALL_SURFACES = SURFACES + SYSTEM_SURFACES


def _one_of(value: str, choices: tuple, name: str) -> str:
    if value not in choices:
        raise ValidationFailed(f"{name} must be one of {', '.join(choices)}.", field=name)
    return value


def _audit(org_id: int, contact_id: int | None, actor_id: int | None, action: str, **kw) -> None:
    kw.setdefault("details", {})
    db.session.add(
        ConsentAudit(org_id=org_id, contact_id=contact_id, actor_id=actor_id, action=action, **kw)
    )


def grant_basis(
    org_id: int, actor_id: int | None, contact_id: int, basis: str, explanation: str, surface: str
) -> LegalBasis:
    """Record a legal basis for a contact (GDPR-5)."""
    get_contact(org_id, contact_id)
    _one_of(basis, BASIS_TYPES, "basis")
    _one_of(surface, SURFACES, "surface")
    row = LegalBasis(
        org_id=org_id,
        contact_id=contact_id,
        basis=basis,
        explanation=explanation or "",
        surface=surface,
        granted_by_id=actor_id,
    )
    db.session.add(row)
    db.session.flush()
    _audit(org_id, contact_id, actor_id, "basis_granted", basis=basis, reason=explanation,
           surface=surface, details={"basis_id": row.id})  # fmt: skip
    db.session.commit()
    return row


def withdraw_basis(
    org_id: int, actor_id: int | None, contact_id: int, basis_id: int, surface: str = "api"
) -> LegalBasis:
    """Withdraw an active legal basis (kept, with who and when)."""
    get_contact(org_id, contact_id)
    _one_of(surface, SURFACES, "surface")
    row = db.session.scalar(
        select(LegalBasis).where(
            LegalBasis.org_id == org_id,
            LegalBasis.contact_id == contact_id,
            LegalBasis.id == basis_id,
        )
    )
    if row is None:
        raise NotFound(f"No legal basis {basis_id} on this contact.", field="basis_id")
    if row.withdrawn_at is not None:
        raise Conflict("This legal basis was already withdrawn.", field="basis_id")
    row.withdrawn_at, row.withdrawn_by_id = utcnow(), actor_id
    _audit(org_id, contact_id, actor_id, "basis_withdrawn", basis=row.basis, surface=surface,
           details={"basis_id": row.id})  # fmt: skip
    db.session.commit()
    return row


def one_to_one_type(org_id: int) -> SubscriptionType:
    """The org's built-in one-to-one subscription type, created on first use."""
    query = select(SubscriptionType).where(
        SubscriptionType.org_id == org_id, SubscriptionType.name == ONE_TO_ONE
    )
    found = db.session.scalar(query)
    if found is not None:
        return found
    try:
        with db.session.begin_nested():
            row = SubscriptionType(
                org_id=org_id, name=ONE_TO_ONE, label="One-to-one email", is_one_to_one=True
            )
            db.session.add(row)
        return row
    except IntegrityError:  # created concurrently
        return db.session.scalar(query)


def create_subscription_type(org_id: int, name: str, label: str = "") -> SubscriptionType:
    """An org-defined subscription type (name unique per org)."""
    name = (name or "").strip()
    if not name or name == ONE_TO_ONE:
        raise ValidationFailed(
            "Give a subscription type name (not the built-in one).", field="name"
        )
    row = SubscriptionType(org_id=org_id, name=name, label=label or name)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"A subscription type {name!r} exists already.", field="name") from None
    return row


def set_subscription(
    org_id: int, actor_id: int | None, contact_id: int, type_name: str, status: str, surface: str
) -> ContactSubscription:
    """Subscribe or unsubscribe a contact for one type (the built-in one is "one_to_one")."""
    get_contact(org_id, contact_id)
    _one_of(status, SUBSCRIPTION_STATUSES, "status")
    _one_of(surface, ALL_SURFACES, "surface")
    if type_name == ONE_TO_ONE:
        sub_type = one_to_one_type(org_id)
    else:
        sub_type = db.session.scalar(
            select(SubscriptionType).where(
                SubscriptionType.org_id == org_id, SubscriptionType.name == type_name
            )
        )
        if sub_type is None:
            raise NotFound(f"No subscription type {type_name!r}.", field="type")
    row = write_subscription(org_id, actor_id, contact_id, sub_type, status, surface)
    db.session.commit()
    return row


def write_subscription(
    org_id: int, actor_id: int | None, contact_id: int, sub_type: SubscriptionType, status: str,
    surface: str, details: dict | None = None,
) -> ContactSubscription:  # fmt: skip
    """Set the status and audit it, in the caller's transaction (no commit)."""
    row = db.session.scalar(
        select(ContactSubscription).where(
            ContactSubscription.contact_id == contact_id,
            ContactSubscription.type_id == sub_type.id,
        )
    )
    if row is None:
        row = ContactSubscription(org_id=org_id, contact_id=contact_id, type_id=sub_type.id)
        db.session.add(row)
    row.status, row.updated_at = status, utcnow()
    _audit(org_id, contact_id, actor_id, status, surface=surface,
           details={"subscription_type": sub_type.name, **(details or {})})  # fmt: skip
    db.session.flush()
    return row


def is_opted_out(contact_id: int) -> bool:
    """Whether the contact opted out of all email (GDPR-3)."""
    return db.session.get(GlobalOptOut, contact_id) is not None


def set_opt_out(
    org_id: int, actor_id: int | None, contact_id: int, opted_out: bool, surface: str,
    reason: str | None = None,
) -> bool:  # fmt: skip
    """Opt a contact out of all email, or back in; returns the new state."""
    get_contact(org_id, contact_id)
    _one_of(surface, ALL_SURFACES, "surface")
    write_opt_out(org_id, actor_id, contact_id, opted_out, surface, reason)
    db.session.commit()
    return opted_out


def write_opt_out(
    org_id: int, actor_id: int | None, contact_id: int, opted_out: bool, surface: str,
    reason: str | None = None, details: dict | None = None,
) -> bool:  # fmt: skip
    """Opt out or back in and audit a change, in the caller's transaction; True if it changed."""
    current = db.session.get(GlobalOptOut, contact_id)
    if opted_out and current is None:
        db.session.add(GlobalOptOut(
            org_id=org_id, contact_id=contact_id, opted_out_by_id=actor_id, surface=surface
        ))  # fmt: skip
        _audit(org_id, contact_id, actor_id, "opted_out", reason=reason, surface=surface,
               details=details or {})  # fmt: skip
    elif not opted_out and current is not None:
        db.session.delete(current)
        _audit(org_id, contact_id, actor_id, "opted_in", reason=reason, surface=surface,
               details=details or {})  # fmt: skip
    else:
        return False
    db.session.flush()
    return True


def give_one_time_basis(
    org_id: int, actor_id: int | None, contact_id: int, reason: str, purpose: str, surface: str
) -> OneTimeBasis:
    """A one-time basis with a written reason, valid for one message (GDPR-2, GDPR-3)."""
    get_contact(org_id, contact_id)
    _one_of(purpose, PURPOSES, "purpose")
    _one_of(surface, SURFACES, "surface")
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationFailed(
            f"Write the reason ({MIN_REASON_LENGTH} characters or more).", field="reason"
        )
    if purpose != "transactional" and is_opted_out(contact_id):
        raise ValidationFailed(
            "The contact opted out of all email: only a transactional reason is accepted.",
            field="purpose",
        )
    row = OneTimeBasis(org_id=org_id, contact_id=contact_id, reason=reason, purpose=purpose,
                       surface=surface, created_by_id=actor_id)  # fmt: skip
    db.session.add(row)
    db.session.flush()
    _audit(org_id, contact_id, actor_id, "one_time_basis_given", reason=reason, surface=surface,
           details={"one_time_basis_id": row.id, "purpose": purpose})  # fmt: skip
    db.session.commit()
    return row


def consent_history(
    org_id: int, contact_id: int, cursor: str | None = None, limit: int | None = None
) -> Page:
    """A contact's consent audit, newest first, cursor-paginated on the entry id."""
    get_contact(org_id, contact_id)
    limit = check_limit(limit)
    after = decode_cursor(cursor, [int])
    query = select(ConsentAudit).where(
        ConsentAudit.org_id == org_id, ConsentAudit.contact_id == contact_id
    )
    if after:
        query = query.where(ConsentAudit.id < after[0])
    rows = list(db.session.scalars(query.order_by(ConsentAudit.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor([rows[-1].id]) if more else None)
