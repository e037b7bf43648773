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
    Date,
    DateTime,
    Numeric,
    String,
    and_,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from ..errors import ValidationFailed
from ..extensions import db
from ..orgs.models import User
from ..orgs.settings import effective_settings
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
        key = given.lower()
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


def _people(org_id: int, addresses: list[str]) -> list[Any]:
    matched = aliased(ContactEmail)
    every = aliased(ContactEmail)
    stmt = (
        select(
            matched.email_normalized,
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.lifecycle_stage,
            Contact.is_marketing,
            User.id,
            User.name,
            User.email,
            Company.id,
            Company.name,
            every.email,
            every.is_primary,
        )  # fmt: skip
        .select_from(matched)
        .join(Contact, and_(Contact.id == matched.contact_id, Contact.org_id == org_id))
        .join(every, every.contact_id == Contact.id)
        .outerjoin(User, and_(User.id == Contact.owner_id, User.org_id == org_id))
        .outerjoin(
            Company, and_(Company.id == Contact.primary_company_id, Company.org_id == org_id)
        )
        .where(matched.org_id == org_id, matched.email_normalized.in_(addresses))
        .order_by(every.is_primary.desc(), every.id)
    )
    return db.session.execute(stmt).all()


def _top_open(model: type, kind: str, org_id: int, contact_ids: list[int], columns: list) -> Any:
    """The first three open records of `model` per contact, as one branch of the UNION."""
    rank = func.row_number().over(
        partition_by=Association.a_id,
        order_by=(model.last_activity_at.is_(None), model.last_activity_at.desc(), model.id.desc()),
    )
    ranked = (
        select(
            Association.a_id.label("owner_key"),
            model.id.label("id"),
            *columns,
            model.last_activity_at.label("last_activity_at"),
            rank.label("rn"),
        )  # fmt: skip
        .join(model, and_(model.id == Association.b_id, model.org_id == org_id))
        .where(
            Association.org_id == org_id,
            Association.a_type == "contact",
            Association.b_type == kind,
            Association.a_id.in_(contact_ids),
            model.is_closed.is_(False),
        )
        .subquery()
    )
    return select(literal_column(f"'{kind}'").label("kind"), *ranked.c).where(ranked.c.rn <= TOP)


def _related(org_id: int, contact_ids: list[int], company_ids: list[int]) -> list[Any]:
    """Deals, tickets and company domains in one statement; columns line up across branches."""
    no_money, no_date = cast(null(), Numeric(14, 2)), cast(null(), Date)
    deals = _top_open(Deal, "deal", org_id, contact_ids, [
        Deal.name.label("title"), Deal.stage.label("status"), Deal.currency.label("extra"),
        Deal.amount.label("amount"), Deal.close_date.label("close_date"),
    ])  # fmt: skip
    tickets = _top_open(Ticket, "ticket", org_id, contact_ids, [
        Ticket.subject, Ticket.status, Ticket.priority, no_money, no_date,
    ])  # fmt: skip
    branches = [deals, tickets]
    if company_ids:
        branches.append(
            select(
                literal_column("'domain'"), CompanyDomain.company_id, CompanyDomain.id,
                CompanyDomain.domain, cast(null(), String), cast(null(), String), no_money, no_date,
                cast(null(), DateTime(timezone=True)), CompanyDomain.id,
            ).where(CompanyDomain.org_id == org_id, CompanyDomain.company_id.in_(company_ids))
        )  # fmt: skip
    return db.session.execute(union_all(*branches).order_by(literal_column("rn"))).all()


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
    return {"results": results, "settings": effective_settings(user)}


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
