"""Connected mailboxes: a user's Microsoft or Google mailbox that Liaison may send from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import UTCDateTime, utcnow
from ..extensions import db

__all__ = ["ConnectedMailbox", "MAILBOX_PROVIDERS", "MAILBOX_STATUSES"]

MAILBOX_PROVIDERS = ("microsoft", "google")
# connected: tokens usable; needs_reconnect: the provider refused our refresh token (revoked,
# expired, consent withdrawn) and the user must connect again; disconnected: the user removed it
# and its tokens are deleted (the row stays so outbox rows naming it still explain themselves).
MAILBOX_STATUSES = ("connected", "needs_reconnect", "disconnected")


class ConnectedMailbox(db.Model):
    """One mailbox of one user at one provider; its tokens are kept only encrypted.

    `token_blob` is Fernet ciphertext (server/crypto.py): for Microsoft the user's serialized MSAL
    token cache, for Google a JSON object with access token, refresh token, expiry and scopes.
    `account_id` is the provider's account: MSAL's home account id (`oid.tid`) or Google's `sub`.
    """

    __tablename__ = "connected_mailboxes"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "account_id"),
        Index("ix_connected_mailboxes_org_user", "org_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))  # microsoft | google
    account_id: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(320))  # stored lower-case
    connected_via: Mapped[str] = mapped_column(String(20), default="web")  # web | outlook
    token_blob: Mapped[str | None] = mapped_column(Text)  # None once disconnected
    scopes: Mapped[str] = mapped_column(String(1000), default="")  # space-separated, as granted
    status: Mapped[str] = mapped_column(String(20), default="connected")
    last_error: Mapped[str | None] = mapped_column(String(1000))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
