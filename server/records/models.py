"""CRM record tables (REC-1..4): contacts and their addresses, companies and their domains,
deals, tickets, custom object types and records, associations, saved views."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import UTCDateTime, utcnow
from ..extensions import db

__all__ = [
    "Contact",
    "ContactEmail",
    "Company",
    "CompanyDomain",
    "Deal",
    "Ticket",
    "CustomObjectType",
    "CustomRecord",
    "Association",
    "SavedView",
    "RECORD_TYPES",
    "LIFECYCLE_STAGES",
]

RECORD_TYPES = ("contact", "company", "deal", "ticket", "custom")
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketing_qualified_lead",
    "sales_qualified_lead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


class _Record:
    """Columns every CRM record has: org, owner, free properties, times."""

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Contact(_Record, db.Model):
    __tablename__ = "contacts"

    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    job_title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    lifecycle_stage: Mapped[str] = mapped_column(String(40), default="lead")
    is_marketing: Mapped[bool] = mapped_column(default=True)
    primary_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )

    emails: Mapped[list[ContactEmail]] = relationship(
        back_populates="contact",
        cascade="all, delete-orphan",
        order_by="(ContactEmail.is_primary.desc(), ContactEmail.id)",
    )

    @property
    def primary_email(self) -> str | None:
        for address in self.emails:
            if address.is_primary:
                return address.email
        return self.emails[0].email if self.emails else None

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or (self.primary_email or f"Contact {self.id}")


class ContactEmail(db.Model):
    """One address of a contact; `email_normalized` (lower-case) is unique per org (REC-3)."""

    __tablename__ = "contact_emails"
    __table_args__ = (UniqueConstraint("org_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320))
    is_primary: Mapped[bool] = mapped_column(default=False)

    contact: Mapped[Contact] = relationship(back_populates="emails")


class Company(_Record, db.Model):
    __tablename__ = "companies"

    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(100))

    domains: Mapped[list[CompanyDomain]] = relationship(
        back_populates="company", cascade="all, delete-orphan", order_by="CompanyDomain.id"
    )


class CompanyDomain(db.Model):
    """A web/mail domain of a company, lower-case, unique per org."""

    __tablename__ = "company_domains"
    __table_args__ = (UniqueConstraint("org_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253))

    company: Mapped[Company] = relationship(back_populates="domains")


class Deal(_Record, db.Model):
    __tablename__ = "deals"

    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(60), default="appointment_scheduled")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    close_date: Mapped[date | None] = mapped_column(Date)
    is_closed: Mapped[bool] = mapped_column(default=False)


class Ticket(_Record, db.Model):
    __tablename__ = "tickets"

    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(40), default="new")
    priority: Mapped[str] = mapped_column(String(20), default="medium")
    is_closed: Mapped[bool] = mapped_column(default=False)


class CustomObjectType(db.Model):
    """An org-defined record type: a name and a typed property schema.

    `property_schema` is a list of {"name", "label", "type", "required", "options"} where type is
    one of text, number, date, datetime, bool, enum, email (options: the enum's allowed values).
    """

    __tablename__ = "custom_object_types"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))  # slug, e.g. "vehicle"
    label: Mapped[str] = mapped_column(String(100))
    plural_label: Mapped[str] = mapped_column(String(100))
    property_schema: Mapped[list] = mapped_column(JSON, default=list)
    display_property: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomRecord(_Record, db.Model):
    __tablename__ = "custom_records"

    type_id: Mapped[int] = mapped_column(
        ForeignKey("custom_object_types.id", ondelete="CASCADE"), index=True
    )
    object_type: Mapped[CustomObjectType] = relationship()


class Association(db.Model):
    """An undirected association between two records, stored once in canonical order.

    The pair is ordered by (type, id): for two different types the direction is fixed by the type
    names (company < contact < custom < deal < ticket), so "deals of these contacts" is always
    a_type='contact' AND b_type='deal'; only same-type pairs need both sides searched.
    """

    __tablename__ = "associations"
    __table_args__ = (
        UniqueConstraint("org_id", "a_type", "a_id", "b_type", "b_id"),
        Index("ix_associations_b_side", "org_id", "b_type", "b_id", "a_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    a_type: Mapped[str] = mapped_column(String(10))
    a_id: Mapped[int] = mapped_column()
    b_type: Mapped[str] = mapped_column(String(10))
    b_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SavedView(db.Model):
    """A named filter over one record type (REC-4); criteria are JSON, compiled to SQL."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    record_type: Mapped[str] = mapped_column(String(10))
    custom_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("custom_object_types.id", ondelete="CASCADE")
    )
    criteria: Mapped[dict] = mapped_column(JSON)
    is_shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
