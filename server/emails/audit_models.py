"""The append-only audit of actions on logged emails (LOG-9): pin, unpin, delete, restore."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import UTCDateTime, utcnow
from ..extensions import db

EMAIL_ACTIONS = ("pin", "unpin", "delete", "restore")


class LoggedEmailAudit(db.Model):
    """Who did what to a logged email, and when; rows are never updated or deleted."""

    __tablename__ = "logged_email_audit"
    __table_args__ = (Index("ix_logged_email_audit_email", "org_id", "email_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email_id: Mapped[int] = mapped_column(ForeignKey("logged_emails.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["EMAIL_ACTIONS", "LoggedEmailAudit"]
