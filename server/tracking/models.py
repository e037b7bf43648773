"""Tracked emails, their links and the raw open/click events (TRK-1, TRK-5, TRK-8).

Counters on TrackedEmail / TrackedLink are updated as events are recorded (never recomputed
from the events); every event keeps its classification: "human" or the machine reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import UTCDateTime, utcnow
from ..extensions import db

__all__ = ["TrackedEmail", "TrackedLink", "TrackingEvent", "TrackingSenderIp"]

HUMAN = "human"


class TrackedEmail(db.Model):
    """One tracked message copy: per recipient (bulk, single To) or anonymous (several)."""

    __tablename__ = "tracked_emails"
    __table_args__ = (
        # a rep's list, newest sent first (status.py), read in index order
        Index("ix_tracked_emails_user_sent", "org_id", "user_id", "sent_at", "id"),
        Index("ix_tracked_emails_message", "org_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outbox_id: Mapped[int | None] = mapped_column(index=True)
    message_id: Mapped[str | None] = mapped_column(String(998))  # without <>
    subject: Mapped[str] = mapped_column(Text, default="")
    recipient: Mapped[str | None] = mapped_column(String(320))  # None: anonymous (TRK-3)
    recipient_count: Mapped[int] = mapped_column(default=1)
    tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    untracked_reason: Mapped[dict | None] = mapped_column(JSON)  # {address: reason} (TRK-10)
    opens_trackable: Mapped[bool] = mapped_column(Boolean, default=True)  # False: text (TRK-2)
    sender_ip: Mapped[str | None] = mapped_column(String(45))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opens_human: Mapped[int] = mapped_column(default=0)
    opens_machine: Mapped[int] = mapped_column(default=0)
    first_open_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # human
    last_open_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicks_human: Mapped[int] = mapped_column(default=0)
    clicks_machine: Mapped[int] = mapped_column(default=0)
    first_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    links: Mapped[list[TrackedLink]] = relationship(
        back_populates="email", order_by="TrackedLink.position", cascade="all, delete-orphan"
    )


class TrackedLink(db.Model):
    """An original URL of a tracked email by its index; the trap link has is_trap."""

    __tablename__ = "tracked_links"
    __table_args__ = (UniqueConstraint("tracked_email_id", "position", name="uq_tracked_link"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tracked_email_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_emails.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column()  # 0.. in document order
    url: Mapped[str] = mapped_column(Text)
    is_trap: Mapped[bool] = mapped_column(Boolean, default=False)
    clicks_human: Mapped[int] = mapped_column(default=0)
    clicks_machine: Mapped[int] = mapped_column(default=0)
    first_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    email: Mapped[TrackedEmail] = relationship(back_populates="links")


class TrackingEvent(db.Model):
    """One raw open or click, kept with its classification (TRK-8)."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        Index("ix_tracking_events_email", "tracked_email_id", "at"),
        Index("ix_tracking_events_org", "org_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)  # stream entry id: idempotent drain
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    tracked_email_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_emails.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(10))  # open | click
    link_index: Mapped[int | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    classification: Mapped[str] = mapped_column(String(60), default=HUMAN)


class TrackingSenderIp(db.Model):
    """Addresses a sender's authenticated tracking calls came from: their own opens (TRK-5)."""

    __tablename__ = "tracking_sender_ips"
    __table_args__ = (UniqueConstraint("user_id", "ip", name="uq_tracking_sender_ip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ip: Mapped[str] = mapped_column(String(45))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
