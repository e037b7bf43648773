"""Logged emails and their associations to CRM records (LOG-1, LOG-3, LOG-4).

One `LoggedEmail` per message per org: `message_key` is the normalized Message-ID, or a stable key
derived from the message when it has none (see `server.emails.parsing.message_key`). However many
paths deliver the same message (BCC, API, both add-ins, several reps), later deliveries only add
`LoggedEmailAssociation` rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import UTCDateTime, utcnow
from ..extensions import db

DIRECTIONS = ("in", "out")
SOURCES = ("api", "bcc", "outlook", "gmail")
PRIVACY_LEVELS = ("full", "subject", "metadata")  # least private first


class LoggedEmail(db.Model):
    """One email logged to the CRM: the raw HTML as received (export only) and its sanitized copy
    (`body_html`, the only one any answer shows, LOG-10); `privacy` says what users other than
    its logger see (server/emails/privacy.py)."""

    __tablename__ = "logged_emails"
    __table_args__ = (
        UniqueConstraint("org_id", "message_key", name="uq_logged_emails_org_key"),
        Index("ix_logged_emails_org_thread", "org_id", "thread_key"),
        Index("ix_logged_emails_org_provider_thread", "org_id", "provider_thread_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_key: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(998))
    thread_key: Mapped[str] = mapped_column(String(255))  # see server/emails/threads.py
    provider_thread_id: Mapped[str | None] = mapped_column(String(255))  # Gmail threadId, ...
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
    body_html: Mapped[str | None] = mapped_column(Text)  # sanitized, remote images held back
    remote_images: Mapped[int] = mapped_column(Integer, default=0)
    privacy: Mapped[str] = mapped_column(String(10), default="full")
    intent_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_intents.id", ondelete="SET NULL")
    )
    # summary of the logged_email_attachments rows (what the timeline shows without a query)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
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


class LoggedEmailAttachment(db.Model):
    """One attachment (or inline part) of a logged email (LOG-7).

    `blob_key` is the SHA-256 key in the blob store, None when not stored (`skipped` says why,
    e.g. "over 50 MB"). An inline image already stored for the same thread (same content hash or
    same Content-ID) gets no new blob: `duplicate_of_id` names the first row and `blob_key` is its.
    """

    __tablename__ = "logged_email_attachments"
    __table_args__ = (
        UniqueConstraint("email_id", "position", name="uq_logged_email_attachment_pos"),
        Index("ix_logged_email_attachments_blob", "blob_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email_id: Mapped[int] = mapped_column(ForeignKey("logged_emails.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(998))
    blob_key: Mapped[str | None] = mapped_column(String(64))
    skipped: Mapped[str | None] = mapped_column(String(100))
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("logged_email_attachments.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailIntent(db.Model):
    """What a rep chose in an add-in before sending (associations, new contacts, privacy, track);
    applied when the sent message, carrying the signed X-Liaison-Intent header, is logged."""

    __tablename__ = "email_intents"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(43), unique=True)  # what the signed header names
    associations: Mapped[list | None] = mapped_column(JSON)  # [{"type", "id"}] or None: defaults
    create_contacts: Mapped[bool | list | None] = mapped_column(JSON)
    privacy: Mapped[str | None] = mapped_column(String(10))
    track: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "EmailIntent",
    "LoggedEmail",
    "LoggedEmailAssociation",
    "LoggedEmailAttachment",
    "PRIVACY_LEVELS",
]
