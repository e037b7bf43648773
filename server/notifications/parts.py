"""Notifications' data subject part (GDPR-8): the notifications that concern a contact.

A notification concerns the contact when
- its data points at the contact: `tracked_email_id` of one of the contact's per-recipient
  tracked emails (TRK-6 opens and clicks), `contact_id`, or `record_type` "contact" with its
  `record_id`;
- or its title, body or data names one of the contact's addresses (case-insensitive), or its
  title or body names the contact's full name ("first last"; a contact with only one name part is
  matched by address and id only: one word would match unrelated texts).

Erasing DELETES those notifications rather than scrubbing them: a notification is a short-lived
alert about the contact ("Opened: ...", "Someone with access to the message sent to <address>"),
the tracked email it points at is deleted by the tracking part, and a scrubbed one would be an
alert about nobody. The part runs at order 40, before the tracking part (50) deletes the tracked
emails it matches through.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, and_, cast, or_, select

from ..extensions import db
from ..tracking.models import TrackedEmail
from .models import Notification

ORDER = 40


def _addresses(contact: Any) -> list[str]:
    found = {(e.email_normalized or e.email or "").strip().lower() for e in contact.emails}
    return sorted(a for a in found if a)


def _full_name(contact: Any) -> str | None:
    first, last = (contact.first_name or "").strip(), (contact.last_name or "").strip()
    return f"{first} {last}" if first and last else None


def _contains(column, text: str):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def _tracked_email_ids(org_id: int, addresses: list[str]) -> list[int]:
    if not addresses:
        return []
    return list(
        db.session.scalars(
            select(TrackedEmail.id).where(
                TrackedEmail.org_id == org_id, TrackedEmail.recipient.in_(addresses)
            )
        )
    )


def _concerning(org_id: int, contact: Any):
    """The WHERE clause of the org's notifications that concern the contact."""
    addresses = _addresses(contact)
    data = Notification.data
    conditions = [
        data["contact_id"].as_integer() == contact.id,
        and_(
            data["record_type"].as_string() == "contact",
            data["record_id"].as_integer() == contact.id,
        ),
    ]
    tracked = _tracked_email_ids(org_id, addresses)
    if tracked:
        conditions.append(data["tracked_email_id"].as_integer().in_(tracked))
    for address in addresses:
        conditions.extend(
            _contains(column, address)
            for column in (Notification.title, Notification.body, cast(data, Text))
        )
    name = _full_name(contact)
    if name:
        conditions.extend(_contains(c, name) for c in (Notification.title, Notification.body))
    return and_(Notification.org_id == org_id, or_(*conditions))


def export_notifications(org_id: int, contact: Any) -> list[dict]:
    """The notifications concerning the contact, with the user each was for."""
    rows = db.session.scalars(
        select(Notification).where(_concerning(org_id, contact)).order_by(Notification.id)
    )
    return [
        {
            "id": n.id,
            "user_id": n.user_id,
            "kind": n.kind,
            "title": n.title,
            "body": n.body,
            "data": n.data or {},
            "created_at": n.created_at,
            "read_at": n.read_at,
        }
        for n in rows
    ]


def erase_notifications(org_id: int, contact: Any) -> dict:
    """Delete the notifications concerning the contact (caller's transaction, no commit)."""
    from ..consent.data_subject import delete_by_ids

    ids = list(db.session.scalars(select(Notification.id).where(_concerning(org_id, contact))))
    return {"notifications": delete_by_ids(Notification, ids)}


def _register() -> None:
    from ..consent.data_subject import register_data_subject_part

    register_data_subject_part(
        "notifications", export_notifications, erase_notifications, order=ORDER
    )


_register()
