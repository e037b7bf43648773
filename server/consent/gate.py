"""The one consent gate every send path calls (GDPR-1..4, GDPR-6) and tracking permission (TRK-10).

Decisions, per recipient address (GDPR-1..4 read literally):
- Globally opted-out contact (GDPR-3): ALWAYS needs an unused transactional one-time basis, with
  data privacy on or off and from a ticket too ("always" in GDPR-3 outranks GDPR-4, which waives
  the legal basis of GDPR-1, not the opt-out). Only `one_time` is offered, `transactional_only`.
  A commercial purpose to such a contact (origin not a ticket) is `refused`.
- A ticket origin makes the email transactional and lets it pass without a legal basis (GDPR-4).
- Data privacy off: allowed. On: a contact needs an active LegalBasis, a `subscribed` status on the
  built-in one-to-one type, or an unused one-time basis (a transactional one covers transactional
  email only); otherwise `needs_basis` offering ["subscription", "one_time"] (GDPR-2).
- An address that is no contact, with data privacy on: `needs_basis` with the same options and
  `contact_id` None (the client creates the contact, then adds the basis; logging would create it
  only after the send). With privacy off, or from a ticket: allowed.

At send time the outbox re-runs the gate (`consent_send_check`) for rows whose content carries
{"consent": {"purpose", "origin"}}, so an opt-out between queueing and sending stops the message,
and the one-time basis is consumed then by the message that used it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy import select

from ..clock import utcnow
from ..errors import ConsentRequired, ValidationFailed
from ..extensions import db
from ..mail.models import OutboxMessage
from ..orgs.settings import org_setting
from ..records.models import ContactEmail
from .models import (
    ONE_TO_ONE,
    ConsentAudit,
    ContactSubscription,
    GlobalOptOut,
    LegalBasis,
    OneTimeBasis,
    SubscriptionType,
)

ORIGIN_TYPES = ("ticket", "record", None)


@dataclass
class Decision:
    """The gate's answer for one recipient."""

    status: str  # allowed | needs_basis | refused
    contact_id: int | None = None
    options: list[str] = field(default_factory=list)
    transactional_only: bool = False
    reason: str | None = None
    one_time_basis_id: int | None = None  # the one-time basis this send would consume

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def _contacts_by_address(org_id: int, addresses: list[str]) -> dict[str, int]:
    rows = db.session.execute(
        select(ContactEmail.email_normalized, ContactEmail.contact_id).where(
            ContactEmail.org_id == org_id, ContactEmail.email_normalized.in_(addresses)
        )
    )
    return dict(rows.all())


def _ids(query) -> set[int]:
    return set(db.session.scalars(query))


def _one_time_bases(org_id: int, ids: set[int], outbox_id: int | None) -> dict[int, list]:
    """Unused one-time bases per contact (or the one this outbox row already consumed); a basis
    taken by a message that then failed or was skipped is unused again (one message sent)."""
    never_sent = select(OutboxMessage.id).where(OutboxMessage.state.in_(("failed", "skipped")))
    usable = (OneTimeBasis.used_by_outbox_id.is_(None) & OneTimeBasis.used_at.is_(None)) | (
        OneTimeBasis.used_by_outbox_id.in_(never_sent)  # its message never went: usable again
    )
    if outbox_id is not None:
        usable = usable | (OneTimeBasis.used_by_outbox_id == outbox_id)
    found: dict[int, list] = {}
    rows = db.session.scalars(
        select(OneTimeBasis)
        .where(OneTimeBasis.org_id == org_id, OneTimeBasis.contact_id.in_(ids), usable)
        .order_by(OneTimeBasis.id)
    )
    for row in rows:
        found.setdefault(row.contact_id, []).append(row)
    return found


def _pick(bases: list[OneTimeBasis], purpose: str, transactional_only: bool) -> int | None:
    for basis in bases:
        if basis.purpose == "transactional" and purpose != "transactional":
            continue
        if transactional_only and basis.purpose != "transactional":
            continue
        return basis.id
    return None


def _check_args(purpose: str, origin: dict | None) -> str | None:
    if purpose not in ("commercial", "transactional"):
        raise ValidationFailed("purpose must be commercial or transactional.", field="purpose")
    origin_type = (origin or {}).get("type")
    if origin_type not in ORIGIN_TYPES:
        raise ValidationFailed("origin.type must be ticket, record or null.", field="origin")
    return origin_type


def check_recipients(
    org_id: int,
    recipients: list[str],
    purpose: str,
    origin: dict | None = None,
    *,
    outbox_id: int | None = None,
) -> dict[str, Decision]:
    """The gate: {address as given: Decision} for a one-to-one email (GDPR-1..4)."""
    origin_type = _check_args(purpose, origin)
    from_ticket = origin_type == "ticket"
    if from_ticket:
        purpose = "transactional"  # GDPR-4
    privacy = bool(org_setting(org_id, "data_privacy"))
    normalized = {address: address.strip().lower() for address in recipients}
    contact_of = _contacts_by_address(org_id, list(set(normalized.values())))
    ids = set(contact_of.values())
    opted_out = _ids(select(GlobalOptOut.contact_id).where(GlobalOptOut.contact_id.in_(ids)))
    with_basis = _ids(
        select(LegalBasis.contact_id).where(
            LegalBasis.org_id == org_id,
            LegalBasis.contact_id.in_(ids),
            LegalBasis.withdrawn_at.is_(None),
        )
    )
    subscribed = _ids(
        select(ContactSubscription.contact_id)
        .join(SubscriptionType, SubscriptionType.id == ContactSubscription.type_id)
        .where(
            ContactSubscription.org_id == org_id,
            ContactSubscription.contact_id.in_(ids),
            ContactSubscription.status == "subscribed",
            SubscriptionType.is_one_to_one.is_(True),
        )
    )
    one_time = _one_time_bases(org_id, ids, outbox_id)
    decisions: dict[str, Decision] = {}
    for address, key in normalized.items():
        contact_id = contact_of.get(key)
        if contact_id is None:
            needs = privacy and not from_ticket
            decisions[address] = (
                Decision("needs_basis", None, ["subscription", "one_time"])
                if needs
                else Decision("allowed")
            )
            continue
        if contact_id in opted_out:  # GDPR-3
            if purpose != "transactional":
                decisions[address] = Decision(
                    "refused",
                    contact_id,
                    reason="The contact opted out of all email; only a transactional email "
                    "with a one-time legal basis can be sent.",
                )
                continue
            used = _pick(one_time.get(contact_id, []), purpose, True)
            decisions[address] = (
                Decision("allowed", contact_id, one_time_basis_id=used)
                if used
                else Decision("needs_basis", contact_id, ["one_time"], transactional_only=True)
            )
            continue
        if not privacy or from_ticket or contact_id in with_basis or contact_id in subscribed:
            decisions[address] = Decision("allowed", contact_id)
            continue
        used = _pick(one_time.get(contact_id, []), purpose, False)
        decisions[address] = (
            Decision("allowed", contact_id, one_time_basis_id=used)
            if used
            else Decision("needs_basis", contact_id, ["subscription", "one_time"])
        )
    return decisions


def require_allowed(
    org_id: int, recipients: list[str], purpose: str, origin: dict | None = None
) -> dict[str, Decision]:
    """The gate for a send path: the decisions, or ConsentRequired (409) naming who is blocked."""
    decisions = check_recipients(org_id, recipients, purpose, origin)
    blocked = {a: d for a, d in decisions.items() if d.status != "allowed"}
    if blocked:
        parts = []
        for address, d in blocked.items():
            if d.status == "refused":
                parts.append(f"{address}: refused ({d.reason})")
            else:
                only = ", transactional only" if d.transactional_only else ""
                parts.append(f"{address}: needs a legal basis ({' or '.join(d.options)}{only})")
        raise ConsentRequired("Consent required: " + "; ".join(parts), field="recipients")
    return decisions


def consent_send_check(rows: list[OutboxMessage]) -> dict[int, str]:
    """Outbox batch send check: re-run the gate at send time for the rows whose content carries
    "consent" ({row id: reason} for those it stops), one gate call per (org, purpose, origin);
    a row that would use a one-time basis (or already holds one) is decided on its own, in order,
    so each basis is consumed by one message only."""
    import json

    gated = [(row, c) for row in rows if isinstance(c := (row.content or {}).get("consent"), dict)]
    if not gated:
        return {}
    holding = set(
        db.session.scalars(
            select(OneTimeBasis.used_by_outbox_id).where(
                OneTimeBasis.used_by_outbox_id.in_([row.id for row, _ in gated])
            )
        )
    )

    def reason_for(decision: Decision) -> str | None:
        if decision.status == "refused":
            return f"consent: {decision.reason}"
        if decision.status == "needs_basis":
            return "consent: no legal basis for this recipient at send time (GDPR-1..3)"
        return None

    def check_one(row: OutboxMessage, consent: dict) -> str | None:
        try:
            decision = check_recipients(
                row.org_id,
                [row.recipient],
                consent.get("purpose", "commercial"),
                consent.get("origin"),
                outbox_id=row.id,
            )[row.recipient]
        except ValidationFailed as exc:
            return f"consent: {exc}"
        if decision.status != "allowed" or decision.one_time_basis_id is None:
            return reason_for(decision)
        basis = db.session.get(OneTimeBasis, decision.one_time_basis_id)
        if basis.used_by_outbox_id != row.id:  # unused, or taken by a message that never went
            basis.used_by_outbox_id, basis.used_at = row.id, utcnow()
            db.session.add(
                ConsentAudit(
                    org_id=row.org_id,
                    contact_id=basis.contact_id,
                    actor_id=row.user_id,
                    action="one_time_basis_used",
                    reason=basis.reason,
                    surface=basis.surface,
                    details={"one_time_basis_id": basis.id, "outbox_id": row.id},
                )
            )
            db.session.flush()
        return None

    groups: dict[tuple, list[tuple[OutboxMessage, dict]]] = {}
    for row, consent in gated:
        origin = json.dumps(consent.get("origin"), sort_keys=True, default=str)
        groups.setdefault((row.org_id, consent.get("purpose", "commercial"), origin), []).append(
            (row, consent)
        )
    reasons: dict[int, str] = {}
    for (org_id, purpose, _origin), members in groups.items():
        try:
            decisions = check_recipients(
                org_id,
                list({row.recipient for row, _ in members}),
                purpose,
                members[0][1].get("origin"),
            )
        except ValidationFailed as exc:
            reasons.update({row.id: f"consent: {exc}" for row, _ in members})
            continue
        for row, consent in members:
            decision = decisions[row.recipient]
            if row.id in holding or decision.one_time_basis_id is not None:
                reason = check_one(row, consent)
            else:
                reason = reason_for(decision)
            if reason:
                reasons[row.id] = reason
    return reasons


def may_track(org_id: int, address: str) -> bool:
    """TRK-10: no contact → never; data privacy on → only contacts with a basis to process."""
    contact_id = _contacts_by_address(org_id, [address.strip().lower()]).get(
        address.strip().lower()
    )
    if contact_id is None:
        return False
    if not org_setting(org_id, "data_privacy"):
        return True
    has_basis = db.session.scalar(
        select(LegalBasis.id).where(
            LegalBasis.org_id == org_id,
            LegalBasis.contact_id == contact_id,
            LegalBasis.withdrawn_at.is_(None),
        )
    )
    if has_basis:
        return True
    return bool(
        db.session.scalar(
            select(ContactSubscription.id)
            .join(SubscriptionType, SubscriptionType.id == ContactSubscription.type_id)
            .where(
                ContactSubscription.contact_id == contact_id,
                ContactSubscription.status == "subscribed",
                SubscriptionType.name == ONE_TO_ONE,
                SubscriptionType.is_one_to_one.is_(True),
            )
        )
    )


def _register_send_check() -> None:
    from ..mail.outbox import register_batch_send_check

    register_batch_send_check(consent_send_check)


_register_send_check()
