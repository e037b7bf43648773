"""Contacts, companies, deals and tickets: create, read, update, delete, search (REC-1, REC-3).

Functions take plain values (an org id or the acting user, ids, a dict of fields) and return ORM
rows; every query is scoped by the org. `data` dicts hold the fields of the type's schema
(server/records/schemas.py); the rules are checked here too, so other callers can pass plain dicts.
Custom object records live in custom_types.py; associations in associations.py.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from ..clock import utcnow
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .addresses import (
    associate_primary_company,
    check_primary_company,
    plan_addresses,
    set_addresses,
    set_domains,
)
from .associations import delete_associations_of
from .models import Company, CompanyDomain, Contact, ContactEmail, Deal, Ticket
from .pagination import Page, paginate
from .record_fields import apply_fields, writing

STANDARD_MODELS: dict[str, type] = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
    "ticket": Ticket,
}
ID_FIELDS = {
    "contact": "contact_id",
    "company": "company_id",
    "deal": "deal_id",
    "ticket": "ticket_id",
}


# --- generic CRUD ---------------------------------------------------------------------------------


def _model(kind: str) -> type:
    if kind not in STANDARD_MODELS:
        raise ValidationFailed(f"Unknown record type {kind!r}.", field="record_type")
    return STANDARD_MODELS[kind]


def _select(kind: str, org_id: int):
    model = _model(kind)
    stmt = select(model).where(model.org_id == org_id)
    if kind == "contact":
        stmt = stmt.options(selectinload(Contact.emails))
    elif kind == "company":
        stmt = stmt.options(selectinload(Company.domains))
    return stmt


def get_record(org_id: int, kind: str, record_id: int) -> Any:
    """One contact, company, deal or ticket of the org; 404 otherwise."""
    model = _model(kind)
    record = db.session.scalar(_select(kind, org_id).where(model.id == record_id))
    if record is None:
        raise NotFound(f"No {kind} {record_id} in your organization.", field=ID_FIELDS[kind])
    return record


# A query that looks like a domain ("acme.com", "@acme.co", "https://www.acme.com/"): one word
# with a dot and no "@" inside; the captured part is compared with domains (REC search).
_DOMAIN_QUERY = re.compile(r"^(?:https?://)?(?:www\.)?@?([\w-]+(?:\.[\w-]*)+)/?$")
_NAME_WORDS = re.compile(r"[\s,]+")
MAX_NAME_WORDS = 5  # more words than a name has: no name-word rule


def _domain_of_query(term: str) -> str | None:
    """The domain (or its start) a lower-case query names, or None when it names no domain."""
    match = _DOMAIN_QUERY.match(term)
    return match.group(1) if match else None


def _idna(domain: str) -> str:
    """The ASCII form company domains are stored in (the text itself when it has none)."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def _contact_search(org_id: int, term: str):
    """Contacts whose name contains `term`, whose address starts with it, whose address's or
    primary company's domain starts with it (a domain-like `term`), or whose first and last
    names start with its words in either order ("Smith Ann", "Smith, Ann")."""
    full_name = func.lower(Contact.first_name + " " + Contact.last_name)
    address = ContactEmail.email_normalized
    address_matches = address.startswith(term, autoescape=True)
    clauses = [full_name.contains(term, autoescape=True)]
    domain = _domain_of_query(term)
    if domain:
        address_matches = address_matches | address.contains("@" + domain, autoescape=True)
        by_company_domain = select(CompanyDomain.company_id).where(
            CompanyDomain.org_id == org_id,
            CompanyDomain.domain.startswith(_idna(domain), autoescape=True),
        )
        clauses.append(Contact.primary_company_id.in_(by_company_domain))
    by_email = select(ContactEmail.contact_id).where(ContactEmail.org_id == org_id, address_matches)
    clauses.append(Contact.id.in_(by_email))
    words = [word for word in _NAME_WORDS.split(term) if word]
    if words and words != [term] and len(words) <= MAX_NAME_WORDS:
        first, last = func.lower(Contact.first_name), func.lower(Contact.last_name)
        clauses.append(
            and_(
                *(
                    first.startswith(word, autoescape=True) | last.startswith(word, autoescape=True)
                    for word in words
                )
            )
        )
    return or_(*clauses)


def _search(kind: str, org_id: int, q: str):
    term = q.strip().lower()
    if kind == "contact":
        return _contact_search(org_id, term)
    if kind == "company":
        by_domain = select(CompanyDomain.company_id).where(
            CompanyDomain.org_id == org_id, CompanyDomain.domain.startswith(term, autoescape=True)
        )
        return func.lower(Company.name).contains(term, autoescape=True) | Company.id.in_(by_domain)
    column = Deal.name if kind == "deal" else Ticket.subject
    return func.lower(column).contains(term, autoescape=True)


def list_records(
    org_id: int,
    record_type: str,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    owner_id: int | None = None,
    type_id: int | None = None,
) -> Page:
    """A page of records of one type, newest first, optionally searched by `q` and owner.

    For record_type "custom", `type_id` names the custom object type.
    """
    if record_type == "custom":
        from .custom_types import list_custom_records  # custom_types builds on this module

        if type_id is None:
            raise ValidationFailed("Custom records are listed per type.", field="type_id")
        return list_custom_records(org_id, type_id, q, cursor, limit, owner_id)
    model = _model(record_type)
    stmt = _select(record_type, org_id)
    if q and q.strip():
        stmt = stmt.where(_search(record_type, org_id, q))
    if owner_id is not None:
        stmt = stmt.where(model.owner_id == owner_id)
    return paginate(stmt, [model.id], cursor, limit)


def _apply_links(kind: str, record: Any, data: dict, creating: bool) -> None:
    """Addresses and primary company of contacts, domains of companies (checks before changes)."""
    if kind == "contact":
        plan = plan_addresses(None if creating else record, data)
        if "primary_company_id" in data:
            record.primary_company_id = check_primary_company(
                record.org_id, data["primary_company_id"]
            )
        if plan is not None:
            set_addresses(record, *plan)
    elif kind == "company" and (creating or "domains" in data):
        set_domains(record, data.get("domains") or [])


_TAKEN = "An address or domain was taken at the same moment; try again."


def create_record(user: User, kind: str, data: dict) -> Any:
    """Create a record in the user's org; the owner defaults to the user."""
    model = _model(kind)
    with writing(_TAKEN):
        record = model(org_id=user.org_id, owner_id=user.id, properties={})
        apply_fields(kind, record, data, creating=True)
        _apply_links(kind, record, data, creating=True)
        db.session.add(record)
        if kind == "contact":
            associate_primary_company(record, user.id)
    return record


def update_record(user: User, kind: str, record_id: int, data: dict) -> Any:
    """Change the given fields of a record of the user's org; touches updated_at."""
    with writing(_TAKEN):
        record = get_record(user.org_id, kind, record_id)
        apply_fields(kind, record, data, creating=False)
        _apply_links(kind, record, data, creating=False)
        if kind == "contact" and "primary_company_id" in data:
            associate_primary_company(record, user.id)
        record.updated_at = utcnow()
    return record


def delete_record(user: User, kind: str, record_id: int) -> None:
    """Delete a record of the user's org and every association it had, in one transaction."""
    with writing():
        record = get_record(user.org_id, kind, record_id)
        delete_associations_of(user.org_id, kind, [record.id])
        db.session.delete(record)


# --- named entry points (what pages and other modules call) ---------------------------------------


def get_contact(org_id: int, contact_id: int) -> Contact:
    """One contact of the org, with its addresses; 404 otherwise."""
    return get_record(org_id, "contact", contact_id)


def create_contact(user: User, data: dict) -> Contact:
    """Create a contact: `emails` (one or more; the first is primary unless `primary_email`)."""
    return create_record(user, "contact", data)


def update_contact(user: User, contact_id: int, data: dict) -> Contact:
    """Change a contact; `emails`, `add_emails`, `remove_emails`, `primary_email` edit addresses."""
    return update_record(user, "contact", contact_id, data)


def delete_contact(user: User, contact_id: int) -> None:
    """Delete a contact, its addresses and its associations."""
    delete_record(user, "contact", contact_id)


def add_contact_email(user: User, contact_id: int, email: str, primary: bool = False) -> Contact:
    """Add an address to a contact (409 when another contact of the org has it)."""
    data: dict[str, Any] = {"add_emails": [email]}
    if primary:
        data["primary_email"] = email
    return update_record(user, "contact", contact_id, data)


def remove_contact_email(user: User, contact_id: int, email: str) -> Contact:
    """Remove an address; the last one cannot go, a removed primary passes to the next."""
    return update_record(user, "contact", contact_id, {"remove_emails": [email]})


def get_company(org_id: int, company_id: int) -> Company:
    """One company of the org, with its domains; 404 otherwise."""
    return get_record(org_id, "company", company_id)


def create_company(user: User, data: dict) -> Company:
    """Create a company (`name`, `industry`, `domains`, ...)."""
    return create_record(user, "company", data)


def update_company(user: User, company_id: int, data: dict) -> Company:
    """Change a company; `domains` replaces its domains."""
    return update_record(user, "company", company_id, data)


def delete_company(user: User, company_id: int) -> None:
    """Delete a company and its associations (contacts keep no primary company)."""
    delete_record(user, "company", company_id)


def get_deal(org_id: int, deal_id: int) -> Deal:
    """One deal of the org; 404 otherwise."""
    return get_record(org_id, "deal", deal_id)


def create_deal(user: User, data: dict) -> Deal:
    """Create a deal (`name`, `stage`, `amount`, `currency`, `close_date`, `is_closed`)."""
    return create_record(user, "deal", data)


def update_deal(user: User, deal_id: int, data: dict) -> Deal:
    """Change a deal."""
    return update_record(user, "deal", deal_id, data)


def delete_deal(user: User, deal_id: int) -> None:
    """Delete a deal and its associations."""
    delete_record(user, "deal", deal_id)


def get_ticket(org_id: int, ticket_id: int) -> Ticket:
    """One ticket of the org; 404 otherwise."""
    return get_record(org_id, "ticket", ticket_id)


def create_ticket(user: User, data: dict) -> Ticket:
    """Create a ticket (`subject`, `description`, `status`, `priority`, `is_closed`)."""
    return create_record(user, "ticket", data)


def update_ticket(user: User, ticket_id: int, data: dict) -> Ticket:
    """Change a ticket."""
    return update_record(user, "ticket", ticket_id, data)


def delete_ticket(user: User, ticket_id: int) -> None:
    """Delete a ticket and its associations."""
    delete_record(user, "ticket", ticket_id)
