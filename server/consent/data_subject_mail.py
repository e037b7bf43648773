"""The outbox part of a contact's data (GDPR-8): messages addressed to the contact's addresses.

Erase anonymizes rather than deletes the rows (bulk statistics, tracking and bounces refer to
them): the recipient becomes `erased-<row id>@erased.invalid`, the content `{"erased": true}`,
and a row still waiting to be sent is skipped with the reason. Suppression-list entries (hard
bounces, unsubscribes of non-contacts) are kept: they exist so the address is never mailed again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..mail.models import OutboxMessage
from .data_subject import register_data_subject_part

ERASED_DOMAIN = "erased.invalid"


def _rows(org_id: int, contact: Any) -> list[OutboxMessage]:
    addresses = {e.email_normalized or e.email.lower() for e in contact.emails}
    if not addresses:
        return []
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.org_id == org_id, func.lower(OutboxMessage.recipient).in_(addresses)
            )
            .order_by(OutboxMessage.id)
        )
    )


def export_outbox(org_id: int, contact: Any) -> list[dict]:
    """Messages sent or queued to the contact: subject, state and times."""
    return [
        {
            "id": row.id,
            "recipient": row.recipient,
            "subject": (row.content or {}).get("subject"),
            "state": row.state,
            "created_at": row.created_at,
            "sent_at": row.sent_at,
        }
        for row in _rows(org_id, contact)
    ]


def erase_outbox(org_id: int, contact: Any) -> dict:
    """Anonymize the contact's outbox rows; unsent ones are skipped."""
    cancelled = 0
    rows = _rows(org_id, contact)
    for row in rows:
        row.recipient = f"erased-{row.id}@{ERASED_DOMAIN}"
        row.content = {"erased": True}
        if row.state in ("queued", "sending"):
            row.state, row.last_error = "skipped", "recipient erased (GDPR-8)"
            cancelled += 1
    db.session.flush()
    return {"outbox_anonymized": len(rows), "outbox_cancelled": cancelled}


register_data_subject_part("outbox", export_outbox, erase_outbox, order=70)
