"""One-time legal bases used by mail the rep sends from their own mail client (GDPR-2, GDPR-3).

A one-time basis is valid for one message. Sends through our outbox consume it at send time
(server/consent/gate.py). A message sent from Outlook or Gmail after the sidebar's prompt never
passes our outbox; we learn of it when it is logged (BCC, add-in or API), so the first logging
of an outgoing message uses up one unused basis of each recipient contact. A message the rep
sends without logging it leaves the basis unused (the add-ins log by default when the org says so).
"""

from __future__ import annotations

from sqlalchemy import select

from .. import events
from ..clock import utcnow
from ..emails.models import LoggedEmail
from ..extensions import db
from ..mail.models import OutboxMessage
from ..records.models import ContactEmail
from .models import ConsentAudit, OneTimeBasis


def _recipients(email: LoggedEmail) -> list[str]:
    parties = [*(email.to_addresses or []), *(email.cc_addresses or [])]
    return sorted({(p.get("email") or "").lower() for p in parties if p.get("email")})


def use_one_time_bases(
    org_id: int, email_id: int, user_id: int, direction: str, created: bool, **_payload
) -> int:
    """`email.logged` subscriber: the first log of an outgoing message from a mail client uses
    one unused one-time basis per recipient contact; returns how many were used."""
    if direction != "out" or not created:
        return 0
    email = db.session.get(LoggedEmail, email_id)
    if email is None or not (addresses := _recipients(email)):
        return 0
    if email.message_id and db.session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.org_id == org_id, OutboxMessage.message_id == f"<{email.message_id}>"
        )
    ):
        return 0  # sent through our outbox, which used its basis at send time
    contact_ids = set(db.session.scalars(
        select(ContactEmail.contact_id).where(
            ContactEmail.org_id == org_id, ContactEmail.email_normalized.in_(addresses)
        )
    ))  # fmt: skip
    used = 0
    for contact_id in sorted(contact_ids):
        basis = db.session.scalar(
            select(OneTimeBasis)
            .where(
                OneTimeBasis.org_id == org_id,
                OneTimeBasis.contact_id == contact_id,
                OneTimeBasis.used_by_outbox_id.is_(None),
                OneTimeBasis.used_at.is_(None),
            )
            .order_by(OneTimeBasis.id)
            .limit(1)
            .with_for_update()
        )
        if basis is None:
            continue
        basis.used_at = utcnow()
        db.session.add(ConsentAudit(
            org_id=org_id, contact_id=contact_id, actor_id=user_id,
            action="one_time_basis_used", reason=basis.reason, surface=basis.surface,
            details={"one_time_basis_id": basis.id, "logged_email_id": email.id,
                     "message_id": email.message_id},
        ))  # fmt: skip
        used += 1
    return used


events.subscribe("email.logged", use_one_time_bases)
