"""Logged emails and their associations to CRM records (LOG-1, LOG-3, LOG-4).

One `LoggedEmail` per message per org: `message_key` is the normalized Message-ID, or a stable key
derived from the message when it has none (see `server.emails.parsing.message_key`). However many
paths deliver the same message (BCC, API, both add-ins, several reps), later deliveries only add
`LoggedEmailAssociation` rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import UTCDateTime, utcnow
from ..extensions import db

DIRECTIONS = ("in", "out")
SOURCES = ("api", "bcc", "outlook", "gmail")


class LoggedEmail(db.Model):
    """One email logged to the CRM, stored as received (sanitizing for display comes later)."""

    __tablename__ = "logged_emails"
    __table_args__ = (
        UniqueConstraint("org_id", "message_key", name="uq_logged_emails_org_key"),
        Index("ix_logged_emails_org_thread", "org_id", "thread_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_key: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(998))
    thread_key: Mapped[str] = mapped_column(String(255))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    reference_ids: Mapped[list] = mapped_column(JSON, default=list)  # References, normalized
    subject: Mapped[str] = mapped_column(Text, default="")
    from_address: Mapped[dict] = mapped_column(JSON, default=dict)  # {"name", "email"}
    to_addresses: Mapped[list] = mapped_column(JSON, default=list)  # [{"name", "email"}]
    cc_addresses: Mapped[list] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    direction: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(10))
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body_html_raw: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list] = mapped_column(JSON, default=list)  # metadata only, for now
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # LOG-9 pin on the timeline
    pinned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # soft delete, audited
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    associations: Mapped[list[LoggedEmailAssociation]] = relationship(
        back_populates="email",
        cascade="all, delete-orphan",
        order_by="LoggedEmailAssociation.id",
    )


class LoggedEmailAssociation(db.Model):
    """A logged email shown on one record's timeline; unique per (email, record)."""

    __tablename__ = "logged_email_associations"
    __table_args__ = (
        UniqueConstraint("email_id", "record_type", "record_id", name="uq_logged_email_assoc"),
        Index("ix_logged_email_assoc_record", "org_id", "record_type", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email_id: Mapped[int] = mapped_column(ForeignKey("logged_emails.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int] = mapped_column()
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    email: Mapped[LoggedEmail] = relationship(back_populates="associations")


__all__ = ["LoggedEmail", "LoggedEmailAssociation"]
