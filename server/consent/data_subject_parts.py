"""The built-in data subject parts (GDPR-8): the contact record, logged emails, consent history.

Emails rule: an email "involves" the contact when one of the contact's addresses is among its
parties (From, To, Cc) or it is associated with the contact. Erasing deletes an involved email
when the contact is its only EXTERNAL party (external: not a user of the org, not a connected
mailbox, not on one of the org's own domains, not our inbound domain); otherwise the email stays
for the other people in it, and the contact's addresses are removed from its parties (a From of
theirs becomes {"name": "(erased)", "email": ""}) and its association with the contact is
deleted. Bodies of emails that stay are not rewritten (they are the other parties' mail too).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, delete, or_, select

from ..emails.models import LoggedEmail, LoggedEmailAssociation
from ..emails.never_log import domain_matches
from ..extensions import db
from ..mail.inbound_addresses import inbound_domain
from ..mail.mailbox_models import ConnectedMailbox
from ..orgs.models import OrgDomain, User
from ..records.associations import delete_associations_of
from ..records.models import Association
from .data_subject import register_data_subject_part
from .models import (
    ConsentAudit,
    ContactSubscription,
    GlobalOptOut,
    LegalBasis,
    OneTimeBasis,
    SubscriptionType,
)

ERASED_PARTY = {"name": "(erased)", "email": ""}


def _addresses(contact: Any) -> set[str]:
    return {e.email_normalized or e.email.strip().lower() for e in contact.emails}


# --- the contact record ---------------------------------------------------------------------------


def export_record(org_id: int, contact: Any) -> dict:
    """Properties, addresses, associations and owner of the contact."""
    owner = db.session.get(User, contact.owner_id) if contact.owner_id else None
    links = db.session.scalars(
        select(Association).where(
            Association.org_id == org_id,
            or_(
                (Association.a_type == "contact") & (Association.a_id == contact.id),
                (Association.b_type == "contact") & (Association.b_id == contact.id),
            ),
        )
    )
    associations = []
    for link in links:
        mine = link.a_type == "contact" and link.a_id == contact.id
        other = (link.b_type, link.b_id) if mine else (link.a_type, link.a_id)
        associations.append({"type": other[0], "id": other[1], "created_at": link.created_at})
    return {
        "id": contact.id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "job_title": contact.job_title,
        "phone": contact.phone,
        "lifecycle_stage": contact.lifecycle_stage,
        "is_marketing": contact.is_marketing,
        "properties": contact.properties or {},
        "primary_company_id": contact.primary_company_id,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "last_activity_at": contact.last_activity_at,
        "addresses": [{"email": e.email, "is_primary": e.is_primary} for e in contact.emails],
        "associations": associations,
        "owned_by": {"id": owner.id, "name": owner.name} if owner else None,
    }


def erase_record(org_id: int, contact: Any) -> dict:
    """Delete the contact, its addresses and its associations."""
    addresses = len(contact.emails)
    links = db.session.scalar(
        select(db.func.count(Association.id)).where(
            Association.org_id == org_id,
            or_(
                (Association.a_type == "contact") & (Association.a_id == contact.id),
                (Association.b_type == "contact") & (Association.b_id == contact.id),
            ),
        )
    )
    delete_associations_of(org_id, "contact", [contact.id])
    db.session.delete(contact)
    db.session.flush()
    return {"contacts": 1, "addresses": addresses, "associations": links or 0}


# --- logged emails --------------------------------------------------------------------------------


def _parties(email: LoggedEmail) -> list[dict]:
    return [email.from_address or {}, *(email.to_addresses or []), *(email.cc_addresses or [])]


def _like(column, address: str):
    escaped = address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, Text).ilike(f"%{escaped}%", escape="\\")


def involved_emails(org_id: int, contact: Any) -> list[LoggedEmail]:
    """The org's logged emails where the contact is a party or to which it is associated."""
    addresses = _addresses(contact)
    associated = select(LoggedEmailAssociation.email_id).where(
        LoggedEmailAssociation.org_id == org_id,
        LoggedEmailAssociation.record_type == "contact",
        LoggedEmailAssociation.record_id == contact.id,
    )
    conditions = [LoggedEmail.id.in_(associated)]
    for address in addresses:
        for column in (LoggedEmail.from_address, LoggedEmail.to_addresses):
            conditions.append(_like(column, address))
        conditions.append(_like(LoggedEmail.cc_addresses, address))
    rows = db.session.scalars(
        select(LoggedEmail).where(LoggedEmail.org_id == org_id, or_(*conditions))
        .order_by(LoggedEmail.id)
    )  # fmt: skip
    found = []
    for email in rows:
        in_parties = any((p.get("email") or "").lower() in addresses for p in _parties(email))
        if in_parties or any(
            a.record_type == "contact" and a.record_id == contact.id for a in email.associations
        ):
            found.append(email)
    return found


def _internal_check(org_id: int):
    users = {e.lower() for e in db.session.scalars(select(User.email).where(User.org_id == org_id))}
    users |= {
        a.lower()
        for a in db.session.scalars(
            select(ConnectedMailbox.address).where(ConnectedMailbox.org_id == org_id)
        )
        if a
    }
    domains = list(db.session.scalars(select(OrgDomain.domain).where(OrgDomain.org_id == org_id)))
    ours = inbound_domain()

    def internal(address: str) -> bool:
        domain = address.rpartition("@")[2]
        return address in users or domain == ours or any(domain_matches(domain, d) for d in domains)

    return internal


def emails_to_delete(org_id: int, contact: Any) -> set[int]:
    """Involved emails whose only external party is the contact (see the module rule)."""
    addresses, internal = _addresses(contact), _internal_check(org_id)
    doomed = set()
    for email in involved_emails(org_id, contact):
        external = {
            a for p in _parties(email) if (a := (p.get("email") or "").strip().lower())
        } - addresses
        if all(internal(a) for a in external):
            doomed.add(email.id)
    return doomed


def export_emails(org_id: int, contact: Any) -> list[dict]:
    """Every logged email the contact is in, with bodies and attachment metadata."""
    return [
        {
            "id": e.id,
            "message_id": e.message_id,
            "subject": e.subject,
            "from": e.from_address,
            "to": e.to_addresses,
            "cc": e.cc_addresses,
            "sent_at": e.sent_at,
            "direction": e.direction,
            "body_text": e.body_text,
            "body_html": e.body_html_raw,
            "attachments": e.attachments,
        }
        for e in involved_emails(org_id, contact)
    ]


def erase_emails(org_id: int, contact: Any) -> dict:
    """Delete the emails where the contact is the only external party; scrub it from the rest."""
    addresses, doomed = _addresses(contact), emails_to_delete(org_id, contact)
    scrubbed = 0
    for email in involved_emails(org_id, contact):
        if email.id in doomed:
            db.session.delete(email)
            continue
        if (email.from_address or {}).get("email", "").lower() in addresses:
            email.from_address = dict(ERASED_PARTY)
        for column in ("to_addresses", "cc_addresses"):
            kept = [p for p in getattr(email, column) or [] if p.get("email", "").lower()
                    not in addresses]  # fmt: skip
            setattr(email, column, kept)
        scrubbed += 1
    unlinked = db.session.execute(
        delete(LoggedEmailAssociation).where(
            LoggedEmailAssociation.org_id == org_id,
            LoggedEmailAssociation.record_type == "contact",
            LoggedEmailAssociation.record_id == contact.id,
        )
    ).rowcount
    db.session.flush()
    return {"emails_deleted": len(doomed), "emails_scrubbed": scrubbed, "unlinked": unlinked or 0}


# --- consent --------------------------------------------------------------------------------------


def export_consent(org_id: int, contact: Any) -> dict:
    """Legal bases, subscriptions, opt-out, one-time bases and the consent history."""
    where = {"org_id": org_id, "contact_id": contact.id}
    subs = db.session.execute(
        select(SubscriptionType.name, ContactSubscription.status, ContactSubscription.updated_at)
        .join(SubscriptionType, SubscriptionType.id == ContactSubscription.type_id)
        .where(ContactSubscription.org_id == org_id, ContactSubscription.contact_id == contact.id)
    )
    opt_out = db.session.get(GlobalOptOut, contact.id)
    return {
        "legal_bases": [
            {
                "basis": b.basis,
                "explanation": b.explanation,
                "surface": b.surface,
                "granted_at": b.granted_at,
                "withdrawn_at": b.withdrawn_at,
            }  # fmt: skip
            for b in db.session.scalars(select(LegalBasis).filter_by(**where))
        ],
        "subscriptions": [{"type": n, "status": s, "updated_at": u} for n, s, u in subs],
        "opted_out_at": opt_out.opted_out_at if opt_out else None,
        "one_time_bases": [
            {
                "reason": b.reason,
                "purpose": b.purpose,
                "created_at": b.created_at,
                "used_at": b.used_at,
            }  # fmt: skip
            for b in db.session.scalars(select(OneTimeBasis).filter_by(**where))
        ],
        "history": [
            {
                "at": a.at,
                "action": a.action,
                "basis": a.basis,
                "reason": a.reason,
                "surface": a.surface,
                "details": a.details,
            }  # fmt: skip
            for a in db.session.scalars(
                select(ConsentAudit).filter_by(**where).order_by(ConsentAudit.id)
            )
        ],
    }


def erase_consent(org_id: int, contact: Any) -> dict:
    """Delete the contact's consent rows and history (erase_contact adds the anonymized entry)."""
    counts = {}
    for name, model in (
        ("legal_bases", LegalBasis),
        ("subscriptions", ContactSubscription),
        ("opt_outs", GlobalOptOut),
        ("one_time_bases", OneTimeBasis),
        ("history", ConsentAudit),  # the one deletion of audit rows: erasure (GDPR-8)
    ):
        result = db.session.execute(
            delete(model).where(model.org_id == org_id, model.contact_id == contact.id)
        )
        counts[name] = result.rowcount or 0
    return counts


register_data_subject_part("record", export_record, erase_record, order=100)
register_data_subject_part("emails", export_emails, erase_emails, order=80)
register_data_subject_part("consent", export_consent, erase_consent, order=90)
