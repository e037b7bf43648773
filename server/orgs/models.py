"""Organizations, their identity mappings, users, and stored settings with their audit."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import UTCDateTime, utcnow
from ..extensions import db

__all__ = [
    "Organization",
    "OrgTenant",
    "OrgDomain",
    "User",
    "ExternalIdentity",
    "OrgSetting",
    "UserSetting",
    "SettingsAudit",
    "ROLES",
    "EDITIONS",
]

ROLES = ("super_admin", "admin", "rep")


def new_settings_version() -> int:
    """A fresh random settings version (random, not a counter: a recreated org never reuses one)."""
    return secrets.randbits(62)


EDITIONS = ("free", "standard", "professional", "enterprise")


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    edition: Mapped[str] = mapped_column(String(20), default="standard")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    org_address: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Changes (to a new random value) with every write of the org's or its users' settings, in the
    # same transaction (server/orgs/settings.py): caches of effective settings are keyed by it.
    settings_version: Mapped[int] = mapped_column(
        BigInteger, default=new_settings_version, server_default=text("0")
    )

    tenants: Mapped[list[OrgTenant]] = relationship(back_populates="org", cascade="all")
    domains: Mapped[list[OrgDomain]] = relationship(back_populates="org", cascade="all")


class OrgTenant(db.Model):
    """A Microsoft Entra tenant id whose users belong to this org."""

    __tablename__ = "org_tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(64), unique=True)
    org: Mapped[Organization] = relationship(back_populates="tenants")


class OrgDomain(db.Model):
    """A Google Workspace (or mail) domain whose users belong to this org; lower-case."""

    __tablename__ = "org_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    org: Mapped[Organization] = relationship(back_populates="domains")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))  # stored lower-case
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="rep")
    time_zone: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Organization] = relationship()

    def has_role(self, *roles: str) -> bool:
        """True when the user's role is one of `roles` (a super-admin has every role)."""
        return self.role in roles or self.role == "super_admin"


class ExternalIdentity(db.Model):
    """A user's identity at Microsoft (tenant + oid) or Google (sub)."""

    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))  # microsoft | google
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrgSetting(db.Model):
    """One stored org setting; absent keys take their declared default."""

    __tablename__ = "org_settings"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[object] = mapped_column(JSON)


class UserSetting(db.Model):
    """One stored personal setting (a user's own default where the org does not lock it)."""

    __tablename__ = "user_settings"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[object] = mapped_column(JSON)


class SettingsAudit(db.Model):
    """Append-only: who changed which setting, when, old → new (ADM-4)."""

    __tablename__ = "settings_audit"
    __table_args__ = (Index("ix_settings_audit_org_at", "org_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(String(10))  # org | user
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    key: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[object | None] = mapped_column(JSON)
    new_value: Mapped[object | None] = mapped_column(JSON)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
