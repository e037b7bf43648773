"""Contact addresses (REC-3) and company domains: validated, unique per org.

A contact has one or more addresses, exactly one primary, unique per org ignoring case (look-ups
are case-insensitive and exact). A company's domains are lower-case and unique per org.
"""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from .associations import ensure_association
from .models import Company, CompanyDomain, Contact, ContactEmail

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def clean_email(value: Any, field: str = "emails") -> str:
    """A syntactically valid address (no DNS lookup), stripped; 422 naming `field` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("An email address is required.", field=field)
    address = value.strip()
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"{address!r} is not a valid email address: {exc}", field=field
        ) from None
    return address


def normalize_email(address: str) -> str:
    """The form addresses are compared and looked up in: stripped, lower-case."""
    return address.strip().lower()


def _clean_list(values: Any, field: str) -> list[str]:
    if not isinstance(values, list | tuple):
        raise ValidationFailed(f"{field} is a list of email addresses.", field=field)
    cleaned: dict[str, str] = {}
    for value in values:
        address = clean_email(value, field)
        cleaned.setdefault(normalize_email(address), address)
    return list(cleaned.values())


def plan_addresses(contact: Contact | None, data: dict) -> tuple[list[str], str | None] | None:
    """The addresses (and primary) the contact should end with, or None when `data` changes none.

    `emails` replaces the list (its first address is primary unless `primary_email` says
    otherwise); `add_emails` and `remove_emails` edit it; `primary_email` picks the primary.
    """
    keys = ("emails", "add_emails", "remove_emails", "primary_email")
    if contact is not None and not any(data.get(k) is not None for k in keys):
        return None
    if "emails" in data or contact is None:
        addresses = _clean_list(data.get("emails") or [], "emails")
    else:
        addresses = [e.email for e in contact.emails]
    for address in _clean_list(data.get("add_emails") or [], "add_emails"):
        if normalize_email(address) not in {normalize_email(a) for a in addresses}:
            addresses.append(address)
    remove = [
        normalize_email(a) for a in _clean_list(data.get("remove_emails") or [], "remove_emails")
    ]
    known = {normalize_email(a) for a in addresses}
    for address in remove:
        if address not in known:
            raise ValidationFailed(
                f"{address} is not an address of this contact.", field="remove_emails"
            )
    addresses = [a for a in addresses if normalize_email(a) not in remove]
    primary = data.get("primary_email")
    if primary is not None:
        primary = clean_email(primary, "primary_email")
        if normalize_email(primary) not in {normalize_email(a) for a in addresses}:
            raise ValidationFailed(
                "primary_email must be one of the contact's addresses.", field="primary_email"
            )
    if not addresses:
        raise ValidationFailed("A contact needs at least one email address.", field="emails")
    return addresses, primary


def check_addresses_free(org_id: int, addresses: list[str], contact_id: int | None) -> None:
    """409 (field "emails") when one of `addresses` belongs to another contact of the org."""
    taken = db.session.execute(
        select(ContactEmail.email_normalized, ContactEmail.contact_id).where(
            ContactEmail.org_id == org_id,
            ContactEmail.email_normalized.in_([normalize_email(a) for a in addresses]),
            ContactEmail.contact_id != (contact_id or 0),
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"The address {taken.email_normalized} already belongs to contact {taken.contact_id}.",
            field="emails",
            email=taken.email_normalized,
            contact_id=taken.contact_id,
        )


def set_addresses(contact: Contact, addresses: list[str], primary: str | None) -> None:
    """Make the contact's rows match `addresses`, keeping rows whose address stays."""
    check_addresses_free(contact.org_id, addresses, contact.id)
    current = {e.email_normalized: e for e in contact.emails}
    if primary is not None:
        primary_key = normalize_email(primary)
    else:
        old = next((key for key, row in current.items() if row.is_primary), None)
        keys = [normalize_email(a) for a in addresses]
        primary_key = old if old in keys else keys[0]
    rows = []
    for address in addresses:
        key = normalize_email(address)
        row = current.get(key) or ContactEmail(org_id=contact.org_id, email_normalized=key)
        row.email = address
        row.is_primary = key == primary_key
        rows.append(row)
    contact.emails = rows


def check_primary_company(org_id: int, company_id: Any) -> int | None:
    """`company_id` when it is a company of the org (or None); 422 on primary_company_id."""
    if company_id is None:
        return None
    found = None
    if isinstance(company_id, int) and not isinstance(company_id, bool):
        found = db.session.scalar(
            select(Company.id).where(Company.id == company_id, Company.org_id == org_id)
        )
    if found is None:
        raise ValidationFailed(
            f"No company {company_id} in your organization.", field="primary_company_id"
        )
    return found


def associate_primary_company(contact: Contact, user_id: int | None) -> None:
    """The contact is associated with its primary company (no commit; the contact is flushed)."""
    if contact.primary_company_id is not None:
        db.session.flush()
        ensure_association(
            contact.org_id,
            ("contact", contact.id),
            ("company", contact.primary_company_id),
            user_id,
        )


def clean_domain(value: Any, field: str = "domains") -> str:
    """A lower-case host name such as acme.com; 422 naming `field` otherwise."""
    domain = value.strip().lower().rstrip(".") if isinstance(value, str) else ""
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    if not _DOMAIN.match(domain):
        raise ValidationFailed(f"{value!r} is not a domain name such as acme.com.", field=field)
    return domain


def set_domains(company: Company, values: Any) -> None:
    """Make the company's domains match `values`; 409 (field "domains") when another has one."""
    if not isinstance(values, list | tuple):
        raise ValidationFailed("domains is a list of domain names.", field="domains")
    wanted = list(dict.fromkeys(clean_domain(v) for v in values))
    if wanted:
        taken = db.session.execute(
            select(CompanyDomain.domain, CompanyDomain.company_id).where(
                CompanyDomain.org_id == company.org_id,
                CompanyDomain.domain.in_(wanted),
                CompanyDomain.company_id != (company.id or 0),
            )
        ).first()
        if taken is not None:
            raise Conflict(
                f"The domain {taken.domain} already belongs to company {taken.company_id}.",
                field="domains", domain=taken.domain, company_id=taken.company_id,
            )  # fmt: skip
    current = {d.domain: d for d in company.domains}
    company.domains = [
        current.get(d) or CompanyDomain(org_id=company.org_id, domain=d) for d in wanted
    ]
