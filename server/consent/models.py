"""Consent tables (GDPR-1..5).

Global opt-out is a row in `consent_opt_outs` (one per opted-out contact) rather than a column on
Contact, so the records model stays the lead's; opting back in deletes the row and the audit keeps
both events. `consent_audit` is append-only: no update path, and its only delete is erasure
(GDPR-8, server/consent/data_subject_parts.py), which leaves one anonymized "contact_erased" entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import UTCDateTime, utcnow
from ..extensions import db

BASIS_TYPES = (
    "consent",
    "legitimate_interest_prospect",
    "legitimate_interest_customer",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_interest",
)
SURFACES = ("api", "web", "outlook", "gmail", "import", "bulk")
SYSTEM_SURFACES = ("unsubscribe_link", "unsubscribe_mailto", "cli")
"""Surfaces only the server records (the recipient's own unsubscribe, the admin CLI)."""
PURPOSES = ("commercial", "transactional")
SUBSCRIPTION_STATUSES = ("subscribed", "unsubscribed")
ONE_TO_ONE = "one_to_one"
"""Name of the built-in one-to-one subscription type, created per org on demand (GDPR-2)."""


def _contact_fk() -> ForeignKey:
    return ForeignKey("contacts.id", ondelete="CASCADE")


def _user_fk() -> ForeignKey:
    return ForeignKey("users.id", ondelete="SET NULL")


def _org_fk() -> ForeignKey:
    return ForeignKey("organizations.id", ondelete="CASCADE")


class LegalBasis(db.Model):
    """A contact's legal basis (GDPR-5); active while withdrawn_at is null."""

    __tablename__ = "consent_legal_bases"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(_org_fk(), index=True)
    contact_id: Mapped[int] = mapped_column(_contact_fk(), index=True)
    basis: Mapped[str] = mapped_column(String(40))
    explanation: Mapped[str] = mapped_column(Text, default="")
    surface: Mapped[str] = mapped_column(String(20))
    granted_by_id: Mapped[int | None] = mapped_column(_user_fk())
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(_user_fk())


class SubscriptionType(db.Model):
    """An org's subscription type; `is_one_to_one` marks the built-in one-to-one type."""

    __tablename__ = "consent_subscription_types"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(_org_fk())
    name: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200), default="")
    is_one_to_one: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # hidden, kept for history


class ContactSubscription(db.Model):
    """A contact's status for one subscription type; no row means "not set"."""

    __tablename__ = "consent_contact_subscriptions"
    __table_args__ = (UniqueConstraint("contact_id", "type_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(_org_fk(), index=True)
    contact_id: Mapped[int] = mapped_column(_contact_fk())
    type_id: Mapped[int] = mapped_column(
        ForeignKey("consent_subscription_types.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(15))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class GlobalOptOut(db.Model):
    """A contact who opted out of all email (GDPR-3): one row while opted out."""

    __tablename__ = "consent_opt_outs"

    contact_id: Mapped[int] = mapped_column(_contact_fk(), primary_key=True)
    org_id: Mapped[int] = mapped_column(_org_fk(), index=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opted_out_by_id: Mapped[int | None] = mapped_column(_user_fk())
    surface: Mapped[str] = mapped_column(String(20))


class OneTimeBasis(db.Model):
    """A one-time legal basis with a written reason, valid for one message (GDPR-2, GDPR-3)."""

    __tablename__ = "consent_one_time_bases"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(_org_fk(), index=True)
    contact_id: Mapped[int] = mapped_column(_contact_fk(), index=True)
    reason: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(15))
    surface: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(_user_fk())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_by_outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsentAudit(db.Model):
    """Append-only consent history (GDPR-5): who, when, what, why, from which surface."""

    __tablename__ = "consent_audit"
    __table_args__ = (Index("ix_consent_audit_contact", "org_id", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(_org_fk())
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )  # null after erasure: the anonymized entry stays
    actor_id: Mapped[int | None] = mapped_column(_user_fk())
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    basis: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    surface: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
