"""The sidebar's main call (REC-3, LOG-4): look up contacts for up to 50 addresses at once.

For each distinct address (case-insensitive, exact): the contact or None, its owner, its primary
company with domains, its first three open deals and first three open tickets (last activity
first, never-active last, then newest), and once per answer the caller's effective settings.

The number of SQL statements does not depend on the number of addresses: one for the contacts
(with their owners, companies and every address), one for the deals, tickets and company domains
(a UNION ALL; ROW_NUMBER() OVER (PARTITION BY contact ...) keeps the top three), plus the
settings' own fixed count. The second is skipped when no address matches a contact. Rows are
read as tuples and answered as plain dicts: this endpoint is benchmarked.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ARRAY,
    Date,
    DateTime,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from ..errors import ValidationFailed
from ..extensions import db
from ..orgs.models import User
from ..orgs.settings import effective_settings
from .addresses import normalize_email
from .models import Association, Company, CompanyDomain, Contact, ContactEmail, Deal, Ticket

MAX_ADDRESSES = 50
TOP = 3
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def _fold(addresses: list[str]) -> tuple[list[dict], dict[str, dict]]:
    """One result per distinct address, in the order asked; invalid ones carry their error."""
    results: list[dict] = []
    valid: dict[str, dict] = {}
    seen: set[str] = set()
    for raw in addresses:
        given = raw.strip() if isinstance(raw, str) else ""
        key = normalize_email(given)
        if key in seen:
            continue
        seen.add(key)
        result = {"email": given, "error": None, "contact": None, "owner": None,
                  "company": None, "deals": [], "tickets": []}  # fmt: skip
        if len(given) > 320 or not _ADDRESS.match(given):
            result["error"] = "not a valid email address"
        else:
            valid[key] = result
        results.append(result)
    return results, valid


def _people_statement(dialect: str) -> Select:
    """Matched addresses with their contact, owner, company and every address of the contact."""
    contacts, users, companies = Contact.__table__, User.__table__, Company.__table__
    matched = ContactEmail.__table__.alias("matched")
    every = ContactEmail.__table__.alias("every")
    org = bindparam("org_id")
    return (
        select(
            matched.c.email_normalized,
            contacts.c.id,
            contacts.c.first_name,
            contacts.c.last_name,
            contacts.c.lifecycle_stage,
            contacts.c.is_marketing,
            users.c.id,
            users.c.name,
            users.c.email,
            companies.c.id,
            companies.c.name,
            every.c.email,
            every.c.is_primary,
        )  # fmt: skip
        .select_from(matched)
        .join(contacts, and_(contacts.c.id == matched.c.contact_id, contacts.c.org_id == org))
        .join(every, every.c.contact_id == contacts.c.id)
        .outerjoin(users, and_(users.c.id == contacts.c.owner_id, users.c.org_id == org))
        .outerjoin(
            companies,
            and_(companies.c.id == contacts.c.primary_company_id, companies.c.org_id == org),
        )
        .where(
            matched.c.org_id == org,
            _one_of(matched.c.email_normalized, "addresses", String, dialect),
        )
        .order_by(every.c.is_primary.desc(), every.c.id)
    )


def _top_open(model: type, kind: str, columns: list, dialect: str) -> Select:
    """The first three open records of `model` per contact, as one branch of the UNION."""
    table, links = model.__table__, Association.__table__
    rank = func.row_number().over(
        partition_by=links.c.a_id,
        order_by=(
            table.c.last_activity_at.is_(None),
            table.c.last_activity_at.desc(),
            table.c.id.desc(),
        ),
    )
    ranked = (
        select(
            links.c.a_id.label("owner_key"),
            table.c.id.label("id"),
            *columns,
            table.c.last_activity_at.label("last_activity_at"),
            rank.label("rn"),
        )  # fmt: skip
        .select_from(links)
        .join(table, and_(table.c.id == links.c.b_id, table.c.org_id == bindparam("org_id")))
        .where(
            links.c.org_id == bindparam("org_id"),
            links.c.a_type == "contact",
            links.c.b_type == kind,
            _one_of(links.c.a_id, "contact_ids", Integer, dialect),
            table.c.is_closed.is_(False),
        )
        .subquery()
    )
    return select(literal_column(f"'{kind}'").label("kind"), *ranked.c).where(ranked.c.rn <= TOP)


def _related_statement(dialect: str) -> Any:
    """Deals, tickets and company domains in one statement; columns line up across branches."""

    def nothing(sql_type: Any, name: str) -> Any:
        return cast(null(), sql_type).label(name)

    deals, tickets, domains = Deal.__table__.c, Ticket.__table__.c, CompanyDomain.__table__.c
    return union_all(
        _top_open(Deal, "deal", [
            deals.name.label("title"), deals.stage.label("status"),
            deals.currency.label("extra"), deals.amount.label("amount"),
            deals.close_date.label("close_date"),
        ], dialect),
        _top_open(Ticket, "ticket", [
            tickets.subject.label("title"), tickets.status.label("status"),
            tickets.priority.label("extra"), nothing(Numeric(14, 2), "amount"),
            nothing(Date, "close_date"),
        ], dialect),
        select(
            literal_column("'domain'").label("kind"), domains.company_id.label("owner_key"),
            domains.id.label("id"), domains.domain.label("title"), nothing(String, "status"),
            nothing(String, "extra"), nothing(Numeric(14, 2), "amount"),
            nothing(Date, "close_date"), nothing(DateTime(timezone=True), "last_activity_at"),
            domains.id.label("rn"),
        ).where(
            domains.org_id == bindparam("org_id"),
            _one_of(domains.company_id, "company_ids", Integer, dialect),
        ),
    ).order_by(literal_column("rn"))  # fmt: skip


def _one_of(column: Any, name: str, item_type: Any, dialect: str) -> Any:
    """`column` in the list parameter `name`: one array parameter on PostgreSQL (the SQL text
    stays the same whatever the length, so it is prepared once), an expanding IN elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(item_type)))
    return column.in_(bindparam(name, expanding=True))


_STATEMENTS: dict[str, tuple[Any, Any]] = {}


def _statements() -> tuple[Any, Any]:
    """Built once per dialect: per request only the parameters change, so SQLAlchemy's compiled
    cache (and PostgreSQL's prepared statements) serve them."""
    dialect = db.session.get_bind().dialect.name
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = (_people_statement(dialect), _related_statement(dialect))
    return _STATEMENTS[dialect]


def _people(org_id: int, addresses: list[str]) -> list[Any]:
    params = {"org_id": org_id, "addresses": addresses}
    return db.session.connection().execute(_statements()[0], params).all()


def _related(org_id: int, contact_ids: list[int], company_ids: list[int]) -> list[Any]:
    params = {"org_id": org_id, "contact_ids": contact_ids, "company_ids": company_ids}
    return db.session.connection().execute(_statements()[1], params).all()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def lookup_emails(user: User, addresses: list[str]) -> dict:
    """Contacts and their context for up to 50 addresses of the caller's org, plus settings."""
    if len(addresses) > MAX_ADDRESSES:
        raise ValidationFailed(f"At most {MAX_ADDRESSES} addresses per call.", field="emails")
    org_id = user.org_id
    results, valid = _fold(addresses)
    contacts: dict[int, dict] = {}
    companies: dict[int, dict] = {}
    by_contact: dict[int, list[dict]] = {}
    first_address: dict[int, str] = {}
    for row in _people(org_id, list(valid)) if valid else ():
        (address, contact_id, first, last, stage, marketing, owner_id, owner_name, owner_email,
         company_id, company_name, email, is_primary) = row  # fmt: skip
        contact = contacts.get(contact_id)
        if contact is None:
            name = f"{first} {last}".strip()
            contact = contacts[contact_id] = {
                "id": contact_id, "name": name, "first_name": first, "last_name": last,
                "primary_email": None, "emails": [], "lifecycle_stage": stage,
                "is_marketing": marketing,
            }  # fmt: skip
            first_address[contact_id] = address
            by_contact[contact_id] = []
            if company_id is not None and company_id not in companies:
                companies[company_id] = {"id": company_id, "name": company_name, "domains": []}
        result = valid[address]
        if result["contact"] is None:
            result["contact"] = contact
            if owner_id is not None:
                result["owner"] = {"id": owner_id, "name": owner_name, "email": owner_email}
            if company_id is not None:
                result["company"] = companies[company_id]
            by_contact[contact_id].append(result)
        if first_address[contact_id] == address:
            contact["emails"].append({"email": email, "is_primary": bool(is_primary)})
            if is_primary and contact["primary_email"] is None:
                contact["primary_email"] = email
    for contact in contacts.values():
        if contact["primary_email"] is None and contact["emails"]:
            contact["primary_email"] = contact["emails"][0]["email"]
        if not contact["name"]:
            contact["name"] = contact["primary_email"] or f"Contact {contact['id']}"
    if contacts:
        _attach_related(org_id, contacts, companies, by_contact)
    answer = {"results": results, "settings": effective_settings(user)}
    # End the read-only transaction with COMMIT, not the teardown's ROLLBACK: psycopg drops its
    # prepared statements on every ROLLBACK, and PostgreSQL would plan the statements above
    # again on each call (measured: about half of PostgreSQL's time per look-up).
    db.session.commit()
    return answer


def _attach_related(
    org_id: int, contacts: dict, companies: dict, by_contact: dict[int, list[dict]]
) -> None:
    deals: dict[int, list[dict]] = {cid: [] for cid in contacts}
    tickets: dict[int, list[dict]] = {cid: [] for cid in contacts}
    for kind, key, rid, title, status, extra, amount, close_date, active, _ in _related(
        org_id, list(contacts), list(companies)
    ):
        if kind == "deal":
            deals[key].append({
                "id": rid, "name": title, "stage": status, "currency": extra,
                "amount": None if amount is None else f"{amount:.2f}",
                "close_date": _iso(close_date), "last_activity_at": _iso(active),
            })  # fmt: skip
        elif kind == "ticket":
            tickets[key].append({"id": rid, "subject": title, "status": status,
                                 "priority": extra, "last_activity_at": _iso(active)})  # fmt: skip
        else:
            companies[key]["domains"].append(title)
    for contact_id, results in by_contact.items():
        for result in results:
            result["deals"] = deals[contact_id]
            result["tickets"] = tickets[contact_id]
