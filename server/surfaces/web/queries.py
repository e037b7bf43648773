"""Read-only look-ups the web pages need beyond the record services: counts for the home page,
a user's open work, and names for ids shown in lists. Every query is scoped by the org."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...orgs.models import Organization, User
from ...records.models import Company, Contact, CustomRecord, Deal, Ticket


def home_counts(org_id: int) -> dict[str, int]:
    """How many contacts, companies, open deals, open tickets and custom records the org has."""

    def count(model: type, *where) -> object:
        return (
            select(func.count()).select_from(model).where(model.org_id == org_id, *where)
        ).scalar_subquery()

    row = db.session.execute(
        select(
            count(Contact).label("contacts"),
            count(Company).label("companies"),
            count(Deal, Deal.is_closed.is_(False)).label("open_deals"),
            count(Ticket, Ticket.is_closed.is_(False)).label("open_tickets"),
            count(CustomRecord).label("custom_records"),
        )
    ).one()
    return dict(row._mapping)


def open_deals_of(org_id: int, user_id: int, limit: int = 10) -> list[Deal]:
    """The user's open deals, most recent activity first."""
    return list(
        db.session.scalars(
            select(Deal)
            .where(Deal.org_id == org_id, Deal.owner_id == user_id, Deal.is_closed.is_(False))
            .order_by(Deal.last_activity_at.desc().nulls_last(), Deal.id.desc())
            .limit(limit)
        )
    )


def open_tickets_of(org_id: int, user_id: int, limit: int = 10) -> list[Ticket]:
    """The user's open tickets, most recent activity first."""
    return list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.org_id == org_id, Ticket.owner_id == user_id, Ticket.is_closed.is_(False))
            .order_by(Ticket.last_activity_at.desc().nulls_last(), Ticket.id.desc())
            .limit(limit)
        )
    )


def user_names(org_id: int, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of the org's users with these ids."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(User.id, User.name, User.email).where(User.org_id == org_id, User.id.in_(wanted))
    )
    return {row.id: row.name or row.email for row in rows}


def company_names(org_id: int, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the org's companies with these ids."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Company.id, Company.name).where(Company.org_id == org_id, Company.id.in_(wanted))
    )
    return {row.id: row.name for row in rows}


def contact_names(org_id: int, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of the org's contacts with these ids (name, else primary address)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    contacts = db.session.scalars(
        select(Contact)
        .options(selectinload(Contact.emails))
        .where(Contact.org_id == org_id, Contact.id.in_(wanted))
    )
    return {contact.id: contact.display_name for contact in contacts}


def demo_users(limit: int = 50) -> list[User]:
    """Active users to offer on the demo sign-in page, by organization and role."""
    order = {"super_admin": 0, "admin": 1, "rep": 2}
    users = db.session.scalars(
        select(User)
        .join(Organization, Organization.id == User.org_id)
        .where(User.is_active.is_(True))
        .order_by(Organization.id, User.id)
        .limit(limit)
    )
    return sorted(users, key=lambda u: (u.org_id, order.get(u.role, 9), u.name))
