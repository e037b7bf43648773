"""Factories: small functions that make one thing with sensible defaults (call inside an app)."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient

from server.auth.tokens import create_api_token
from server.extensions import db
from server.orgs.models import Organization, OrgDomain, OrgTenant, User
from server.records.models import (
    Association,
    Company,
    CompanyDomain,
    Contact,
    ContactEmail,
    Deal,
    Ticket,
)

_seq = itertools.count(1)


def make_org(
    name: str | None = None, tenant_id: str | None = None, domain: str | None = None, **fields: Any
) -> Organization:
    """An organization, optionally mapped to a Microsoft tenant and a Google domain."""
    org = Organization(name=name or f"Org {next(_seq)}", **fields)
    if tenant_id:
        org.tenants.append(OrgTenant(tenant_id=tenant_id))
    if domain:
        org.domains.append(OrgDomain(domain=domain.lower()))
    db.session.add(org)
    db.session.commit()
    return org


def make_user(
    org: Organization, role: str = "rep", email: str | None = None, **fields: Any
) -> User:
    """A user of `org` with the given role."""
    n = next(_seq)
    user = User(
        org_id=org.id,
        role=role,
        email=(email or f"user{n}@example.com").lower(),
        name=fields.pop("name", f"User {n}"),
        **fields,
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_contact(
    org: Organization,
    emails: list[str] | str | None = None,
    owner: User | None = None,
    company: Company | None = None,
    **fields: Any,
) -> Contact:
    """A contact with addresses (the first is primary) and optionally a primary company."""
    if emails is None:
        emails = [f"contact{next(_seq)}@example.org"]
    if isinstance(emails, str):
        emails = [emails]
    contact = Contact(
        org_id=org.id,
        owner_id=owner.id if owner else None,
        primary_company_id=company.id if company else None,
        **fields,
    )
    for i, address in enumerate(emails):
        contact.emails.append(
            ContactEmail(
                org_id=org.id, email=address, email_normalized=address.lower(), is_primary=i == 0
            )
        )
    db.session.add(contact)
    db.session.commit()
    if company:
        associate(org, company, contact)
    return contact


def make_company(
    org: Organization,
    name: str | None = None,
    domains: list[str] | None = None,
    owner: User | None = None,
    **fields: Any,
) -> Company:
    company = Company(
        org_id=org.id,
        name=name or f"Company {next(_seq)}",
        owner_id=owner.id if owner else None,
        **fields,
    )
    for domain in domains or []:
        company.domains.append(CompanyDomain(org_id=org.id, domain=domain.lower()))
    db.session.add(company)
    db.session.commit()
    return company


def make_deal(
    org: Organization, name: str | None = None, owner: User | None = None, **fields: Any
) -> Deal:
    deal = Deal(
        org_id=org.id,
        name=name or f"Deal {next(_seq)}",
        owner_id=owner.id if owner else None,
        **fields,
    )
    db.session.add(deal)
    db.session.commit()
    return deal


def make_ticket(
    org: Organization, subject: str | None = None, owner: User | None = None, **fields: Any
) -> Ticket:
    ticket = Ticket(
        org_id=org.id,
        subject=subject or f"Ticket {next(_seq)}",
        owner_id=owner.id if owner else None,
        **fields,
    )
    db.session.add(ticket)
    db.session.commit()
    return ticket


_TYPE_OF = {Contact: "contact", Company: "company", Deal: "deal", Ticket: "ticket"}


def record_type_of(record: Any) -> str:
    return _TYPE_OF.get(type(record), "custom")


def associate(org: Organization, left: Any, right: Any) -> Association:
    """Associate two records directly in canonical (type, id) order."""
    a = (record_type_of(left), left.id)
    b = (record_type_of(right), right.id)
    a, b = sorted([a, b])
    row = Association(org_id=org.id, a_type=a[0], a_id=a[1], b_type=b[0], b_id=b[1])
    db.session.add(row)
    db.session.commit()
    return row


class ApiClient:
    """A test client that sends a user's personal API token with every request."""

    def __init__(self, client: FlaskClient, user: User) -> None:
        _, self.token = create_api_token(user, "tests")
        self.client = client
        self.user = user

    def _call(self, method: str, url: str, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, url: str, **kw: Any):
        return self._call("GET", url, **kw)

    def post(self, url: str, **kw: Any):
        return self._call("POST", url, **kw)

    def patch(self, url: str, **kw: Any):
        return self._call("PATCH", url, **kw)

    def put(self, url: str, **kw: Any):
        return self._call("PUT", url, **kw)

    def delete(self, url: str, **kw: Any):
        return self._call("DELETE", url, **kw)
