"""The recipient's preference page (GDPR-7): their status per subscription type, and opt-out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from .models import ContactSubscription, GlobalOptOut, SubscriptionType
from .service import one_to_one_type, write_opt_out, write_subscription
from .unsubscribe import Target, apply_unsubscribe

SURFACE = "unsubscribe_link"


@dataclass(frozen=True)
class TypeStatus:
    """One subscription type and the recipient's status ("subscribed", "unsubscribed" or None)."""

    id: int
    label: str
    status: str | None


def visible_types(org_id: int) -> list[SubscriptionType]:
    """The org's subscription types that are not archived, the one-to-one type first."""
    one_to_one_type(org_id)
    return list(
        db.session.scalars(
            select(SubscriptionType)
            .where(SubscriptionType.org_id == org_id, SubscriptionType.archived_at.is_(None))
            .order_by(SubscriptionType.is_one_to_one.desc(), SubscriptionType.label)
        )
    )


def preferences(target: Target) -> tuple[list[TypeStatus], bool]:
    """(each visible type with the contact's status, globally opted out?)."""
    if target.contact_id is None:
        return [], False
    statuses = dict(
        db.session.execute(
            select(ContactSubscription.type_id, ContactSubscription.status).where(
                ContactSubscription.contact_id == target.contact_id
            )
        ).all()
    )
    types = [
        TypeStatus(t.id, t.label or t.name, statuses.get(t.id))
        for t in visible_types(target.org_id)
    ]
    return types, db.session.get(GlobalOptOut, target.contact_id) is not None


def save_preferences(target: Target, wanted: dict[int, str], opt_out: bool) -> int:
    """Apply the page's choices (only the changes are written and audited); the caller commits.

    `wanted` maps type id → "subscribed" | "unsubscribed"; other ids are ignored."""
    if target.contact_id is None:
        if opt_out:
            apply_unsubscribe(target, SURFACE, "preferences")
            return 1
        return 0
    current, was_out = preferences(target)
    changes = 0
    types = {t.id: t for t in visible_types(target.org_id)}
    for item in current:
        status = wanted.get(item.id)
        if status in ("subscribed", "unsubscribed") and status != item.status:
            write_subscription(target.org_id, None, target.contact_id, types[item.id], status,
                               SURFACE, {"via": "preferences"})  # fmt: skip
            changes += 1
    if opt_out != was_out:
        write_opt_out(target.org_id, None, target.contact_id, opt_out, SURFACE,
                      details={"via": "preferences"})  # fmt: skip
        changes += 1
    return changes
