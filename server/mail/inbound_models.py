"""Inbound mail tables: logging addresses, per-org inbound secrets, the replay cache, dead
letters, and the per-org suppression list that hard bounces fill."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, deferred, mapped_column

from ..clock import UTCDateTime, utcnow
from ..extensions import db

__all__ = [
    "LoggingToken",
    "InboundSecret",
    "InboundReplay",
    "DeadLetter",
    "SuppressedAddress",
    "DEAD_LETTER_STATUSES",
    "insert_if_absent",
]

DEAD_LETTER_STATUSES = ("new", "retried", "resolved")


class LoggingToken(db.Model):
    """A user's logging address token (log+<token>@<inbound domain>); one live token per user.

    Rotating replaces the token in place, so the old address stops working at once.
    """

    __tablename__ = "inbound_logging_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundSecret(db.Model):
    """The org's secret for signing POST /inbound/mime.

    Only a random nonce is stored: the secret is HMAC(app secret key, org id + nonce), so a copy
    of the database alone cannot sign requests. Rotating draws a new nonce.
    """

    __tablename__ = "inbound_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class InboundReplay(db.Model):
    """A signature already used on POST /inbound/mime, kept until its timestamp has gone stale."""

    __tablename__ = "inbound_replays"
    __table_args__ = (Index("ix_inbound_replays_expires", "expires_at"),)

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeadLetter(db.Model):
    """An inbound message that could not be routed (or parsed), kept whole so it can be retried."""

    __tablename__ = "inbound_dead_letters"
    __table_args__ = (Index("ix_inbound_dead_letters_org", "org_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(10))  # smtp | http
    envelope_recipients: Mapped[list] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    status: Mapped[str] = mapped_column(String(10), default="new")  # new | retried | resolved
    attempts: Mapped[int] = mapped_column(default=0)  # retries so far
    last_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SuppressedAddress(db.Model):
    """An address the org no longer sends to (a hard bounce); stored lower-case."""

    __tablename__ = "mail_suppressions"
    __table_args__ = (UniqueConstraint("org_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def insert_if_absent(model: type[db.Model], **values) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite); True when the row was added.

    Race-free without savepoints (SQLite's driver does not nest them inside its transaction).
    """
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model).values(**values).on_conflict_do_nothing()
    key = model.__table__.primary_key.columns.values()[0]
    return db.session.execute(statement.returning(key)).first() is not None
