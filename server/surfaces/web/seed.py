"""The demo organization: users, contacts, companies, deals, tickets, a custom object type and
their associations (`liaison demo`). Deterministic: the same seed makes the same records."""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from ...clock import utcnow
from ...orgs.models import Organization, OrgDomain, OrgTenant, User
from ...orgs.settings import set_org_settings
from ...records.custom_types import clean_property_schema, clean_values
from ...records.models import (
    Association,
    Company,
    CompanyDomain,
    Contact,
    ContactEmail,
    CustomObjectType,
    CustomRecord,
    Deal,
    Ticket,
)
from .seed_data import (
    CITIES,
    COMPANIES,
    DEAL_TOPICS,
    DEMO_DOMAIN,
    DEMO_ORG_NAME,
    DEMO_SETTINGS,
    DEMO_TENANT_ID,
    FIRST_NAMES,
    JOB_TITLES,
    LAST_NAMES,
    MODELS,
    OPEN_STAGES,
    PERSONAL_DOMAINS,
    TICKET_SUBJECTS,
    USERS,
    VEHICLE_SCHEMA,
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", "and")).strip("-")


def _recent(rng: random.Random, now: datetime, days: int = 42) -> datetime:
    return now - timedelta(days=rng.randint(0, days), hours=rng.randint(0, 23))


class _Links:
    """Association rows in canonical (type, id) order, each pair once."""

    def __init__(self, org_id: int, created_at: datetime) -> None:
        self.org_id, self.created_at, self.pairs = org_id, created_at, set()

    def add(self, left: tuple[str, int], right: tuple[str, int]) -> None:
        self.pairs.add(tuple(sorted([left, right])))

    def rows(self) -> list[Association]:
        return [
            Association(
                org_id=self.org_id,
                a_type=a[0],
                a_id=a[1],
                b_type=b[0],
                b_id=b[1],
                created_at=self.created_at,
            )
            for a, b in sorted(self.pairs)
        ]


def _org_and_users(session: Session) -> tuple[Organization, list[User]]:
    org = Organization(
        name=DEMO_ORG_NAME,
        edition="professional",
        time_zone="Europe/Berlin",
        org_address=f"hello@{DEMO_DOMAIN}",
    )
    org.tenants.append(OrgTenant(tenant_id=DEMO_TENANT_ID))
    org.domains.append(OrgDomain(domain=DEMO_DOMAIN))
    session.add(org)
    session.flush()
    users = []
    for name, role in USERS:
        first, last = name.lower().split()
        users.append(
            User(
                org_id=org.id,
                name=name,
                role=role,
                email=f"{first}.{last}@{DEMO_DOMAIN}",
                time_zone="Europe/Berlin",
            )
        )
    session.add_all(users)
    session.flush()
    return org, users


def _companies(
    session: Session, rng: random.Random, org: Organization, owners: list[User], now: datetime
) -> list[Company]:
    companies = []
    for name, industry in COMPANIES:
        company = Company(
            org_id=org.id,
            name=name,
            industry=industry,
            owner_id=rng.choice(owners).id,
            properties={
                "city": rng.choice(CITIES),
                "employees": rng.choice([12, 45, 120, 480, 2300]),
            },
            last_activity_at=_recent(rng, now),
        )
        company.domains.append(CompanyDomain(org_id=org.id, domain=f"{_slug(name)}.example"))
        companies.append(company)
    session.add_all(companies)
    session.flush()
    return companies


def _contacts(
    session: Session,
    rng: random.Random,
    org: Organization,
    owners: list[User],
    companies: list[Company],
    now: datetime,
    count: int = 200,
) -> list[Contact]:
    contacts, used = [], set()
    stages = ["lead"] * 5 + ["marketing_qualified_lead", "sales_qualified_lead", "opportunity"]
    stages += ["customer"] * 4 + ["subscriber", "evangelist"]
    while len(contacts) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(companies) if rng.random() < 0.85 else None
        local = f"{first}.{last}".lower()
        work = f"{local}@{company.domains[0].domain}" if company else None
        personal = f"{local}@{rng.choice(PERSONAL_DOMAINS)}"
        addresses = [a for a in (work, personal) if a]
        if company and rng.random() > 0.3:
            addresses = addresses[:1]
        if any(a in used for a in addresses):
            continue
        used.update(addresses)
        contact = Contact(
            org_id=org.id,
            owner_id=rng.choice(owners).id,
            first_name=first,
            last_name=last,
            job_title=rng.choice(JOB_TITLES) if company else None,
            phone=f"+49 30 {rng.randint(1000000, 9999999)}",
            lifecycle_stage=rng.choice(stages),
            is_marketing=rng.random() > 0.2,
            primary_company_id=company.id if company else None,
            properties={"city": rng.choice(CITIES)},
            last_activity_at=_recent(rng, now),
        )
        for i, address in enumerate(addresses):
            contact.emails.append(
                ContactEmail(
                    org_id=org.id, email=address, email_normalized=address, is_primary=i == 0
                )
            )
        contacts.append(contact)
    session.add_all(contacts)
    session.flush()
    return contacts


def _deals(
    session: Session,
    rng: random.Random,
    org: Organization,
    reps: list[User],
    companies: list[Company],
    today: date,
    now: datetime,
) -> list[tuple[Deal, Company]]:
    deals = []
    for i in range(60):
        company = companies[i % len(companies)] if i < len(companies) else rng.choice(companies)
        closed = rng.random() < 0.3
        stage = rng.choice(("closed_won", "closed_lost")) if closed else rng.choice(OPEN_STAGES)
        deal = Deal(
            org_id=org.id,
            owner_id=rng.choice(reps).id,
            name=f"{company.name} – {rng.choice(DEAL_TOPICS)}",
            stage=stage,
            amount=Decimal(rng.randrange(2_000, 150_000, 500)),
            currency="EUR",
            close_date=today + timedelta(days=rng.randint(-60, 90)),
            is_closed=closed,
            last_activity_at=_recent(rng, now),
            properties={"source": rng.choice(["inbound", "referral", "event"])},
        )
        deals.append((deal, company))
    session.add_all(deal for deal, _ in deals)
    session.flush()
    return deals


def _tickets(
    session: Session, rng: random.Random, org: Organization, owners: list[User], now: datetime
) -> list[Ticket]:
    tickets = []
    for _ in range(40):
        status = rng.choice(("new", "waiting_on_contact", "waiting_on_us", "closed"))
        tickets.append(
            Ticket(
                org_id=org.id,
                owner_id=rng.choice(owners).id,
                subject=rng.choice(TICKET_SUBJECTS),
                description="Reported by email; see the logged thread.",
                status=status,
                priority=rng.choice(("low", "medium", "medium", "high", "urgent")),
                is_closed=status == "closed",
                last_activity_at=_recent(rng, now, days=28),
            )
        )
    session.add_all(tickets)
    session.flush()
    return tickets


def _vehicles(
    session: Session, rng: random.Random, org: Organization, owners: list[User], now: datetime
) -> tuple[CustomObjectType, list[CustomRecord]]:
    vehicle = CustomObjectType(
        org_id=org.id,
        name="vehicle",
        label="Vehicle",
        plural_label="Vehicles",
        property_schema=clean_property_schema(VEHICLE_SCHEMA),
        display_property="registration",
    )
    session.add(vehicle)
    session.flush()
    records = []
    for i in range(20):
        make = rng.choice(sorted(MODELS))
        year = rng.randint(2016, 2025)
        properties = {
            "registration": f"B-NW {1000 + i * 37}",
            "make": make,
            "model": rng.choice(MODELS[make]),
            "year": year,
            "first_registered": date(year, rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
            "fleet_contact_email": f"fleet@{DEMO_DOMAIN}",
            "electric": rng.random() < 0.35,
        }
        records.append(
            CustomRecord(
                org_id=org.id,
                type_id=vehicle.id,
                owner_id=rng.choice(owners).id,
                properties=clean_values(vehicle, properties),
                last_activity_at=_recent(rng, now),
            )
        )
    session.add_all(records)
    session.flush()
    return vehicle, records


def seed_demo(session: Session, seed: int = 7) -> dict:
    """Create the demo org and its records in one transaction, then set a few org settings
    through the settings service (audited, as its super-admin); returns what was made."""
    rng, now = random.Random(seed), utcnow()
    org, users = _org_and_users(session)
    reps = [u for u in users if u.role == "rep"]
    owners = reps + [users[1]]
    companies = _companies(session, rng, org, owners, now)
    contacts = _contacts(session, rng, org, owners, companies, now)
    deals = _deals(session, rng, org, reps, companies, now.date(), now)
    tickets = _tickets(session, rng, org, owners, now)
    vehicle, vehicles = _vehicles(session, rng, org, owners, now)

    links = _Links(org.id, now - timedelta(days=50))
    by_company: dict[int, list[Contact]] = {}
    for contact in contacts:
        if contact.primary_company_id:
            links.add(("contact", contact.id), ("company", contact.primary_company_id))
            by_company.setdefault(contact.primary_company_id, []).append(contact)
    for deal, company in deals:
        links.add(("deal", deal.id), ("company", company.id))
        people = by_company.get(company.id) or [rng.choice(contacts)]
        for contact in rng.sample(people, min(len(people), rng.randint(1, 2))):
            links.add(("contact", contact.id), ("deal", deal.id))
    for ticket in tickets:
        links.add(("contact", rng.choice(contacts).id), ("ticket", ticket.id))
    for record in vehicles:
        links.add(("custom", record.id), ("contact", rng.choice(contacts).id))
    associations = links.rows()
    session.add_all(associations)
    session.commit()
    set_org_settings(users[0], DEMO_SETTINGS)
    return {
        "org_id": org.id,
        "users": {u.role if u.role != "rep" else f"rep{reps.index(u) + 1}": u.id for u in users},
        "contacts": len(contacts),
        "companies": len(companies),
        "deals": len(deals),
        "tickets": len(tickets),
        "custom_type_id": vehicle.id,
        "custom_records": len(vehicles),
        "associations": len(associations),
    }
