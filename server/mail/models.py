"""The outbox: one row per outgoing recipient message; the row is the truth of its state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import UTCDateTime, utcnow
from ..extensions import db

__all__ = ["OutboxMessage", "OUTBOX_STATES"]

# queued → sending → sent | failed | skipped; after sending: delivered, bounced
OUTBOX_STATES = ("queued", "sending", "sent", "failed", "skipped", "delivered", "bounced")


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_group", "org_id", "group_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(20), default="one_to_one")
    group_key: Mapped[str | None] = mapped_column(String(64))  # e.g. "bulk:12", "send:abc"
    transport: Mapped[str] = mapped_column(String(10), default="smtp")  # smtp | graph | gmail
    mailbox_id: Mapped[int | None] = mapped_column()
    envelope_from: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)  # RFC 5322 Message-ID
    content: Mapped[dict] = mapped_column(JSON)  # what to render: headers, subject, bodies, merge
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reclaimed: Mapped[int] = mapped_column(default=0)  # leases that expired in flight
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
