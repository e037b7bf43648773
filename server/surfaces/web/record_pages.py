"""List and detail pages for contacts, companies, deals, tickets and custom object records (UI-3).

Each page calls the same record services as the API, scoped by the signed-in user's org (an id
of another org is a 404 page), and hands the template plain rows of already formatted cells.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from ...orgs.models import User
from ...records.associations import display_name, list_associations
from ...records.custom_types import get_custom_record, get_custom_type, list_custom_records
from ...records.service import get_record, list_records
from .blueprint import bp, day, humanize, localday, money, signed_in
from .queries import company_names, user_names
from .timeline_view import record_timeline

PAGE_SIZE = 25
PLURALS = {"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets"}
TITLES = {"contact": "Contacts", "company": "Companies", "deal": "Deals", "ticket": "Tickets"}
COLUMNS = {
    "contact": ("Name", "Email", "Company", "Stage", "Owner", "Last activity"),
    "company": ("Name", "Domain", "Industry", "Owner", "Last activity"),
    "deal": ("Name", "Stage", "Amount", "Close date", "Owner", "Last activity"),
    "ticket": ("Subject", "Status", "Priority", "Owner", "Last activity"),
}
SECTION_ORDER = ("company", "contact", "deal", "ticket", "custom")


def record_url(kind: str, record_id: int, type_id: int | None = None) -> str:
    """The page of one record of any type."""
    if kind == "custom":
        return url_for("web.custom_record", type_id=type_id, record_id=record_id)
    return url_for(f"web.{kind}_detail", **{f"{kind}_id": record_id})


def _cells(kind: str, record: Any, owners: dict, companies: dict) -> list[str]:
    tail = [owners.get(record.owner_id, "—"), localday(record.last_activity_at)]
    if kind == "contact":
        company = companies.get(record.primary_company_id, "—")
        return [record.primary_email or "—", company, humanize(record.lifecycle_stage), *tail]
    if kind == "company":
        domain = record.domains[0].domain if record.domains else "—"
        return [domain, record.industry or "—", *tail]
    if kind == "deal":
        amount = money(record.amount, record.currency)
        return [humanize(record.stage), amount, day(record.close_date), *tail]
    return [humanize(record.status), humanize(record.priority), *tail]


def _pager(q: str, next_cursor: str | None) -> dict:
    """Links to the next page and back to the first, keeping the search."""
    here = dict(request.view_args or {}, q=q or None)
    return {
        "next_url": url_for(request.endpoint, **here, cursor=next_cursor) if next_cursor else None,
        "first_url": url_for(request.endpoint, **here) if request.args.get("cursor") else None,
    }


def _list_page(user: User, kind: str):
    q = (request.args.get("q") or "").strip()
    page = list_records(user.org_id, kind, q or None, request.args.get("cursor"), PAGE_SIZE)
    owners = user_names(user.org_id, (r.owner_id for r in page.items))
    companies = (
        company_names(user.org_id, (r.primary_company_id for r in page.items))
        if kind == "contact"
        else {}
    )
    rows = [
        {
            "href": record_url(kind, r.id),
            "title": display_name(kind, r),
            "cells": _cells(kind, r, owners, companies),
        }
        for r in page.items
    ]
    return render_template(
        "web/list.html",
        title=TITLES[kind],
        active=PLURALS[kind],
        columns=COLUMNS[kind],
        rows=rows,
        q=q,
        **_pager(q, page.next_cursor),
        noun=PLURALS[kind],
    )


def _fields(kind: str, record: Any, user: User) -> list[tuple[str, Any]]:
    owner = user_names(user.org_id, [record.owner_id]).get(record.owner_id, "—")
    if kind == "contact":
        company = company_names(user.org_id, [record.primary_company_id])
        company_id = record.primary_company_id
        return [
            ("Job title", record.job_title or "—"),
            ("Phone", record.phone or "—"),
            ("Lifecycle stage", humanize(record.lifecycle_stage)),
            ("Marketing contact", "Yes" if record.is_marketing else "No (non-marketing)"),
            ("Primary company", (record_url("company", company_id), company[company_id])
             if company_id in company else "—"),
            ("Owner", owner),
        ]  # fmt: skip
    if kind == "company":
        return [
            ("Domains", ", ".join(d.domain for d in record.domains) or "—"),
            ("Industry", record.industry or "—"),
            ("Owner", owner),
        ]
    if kind == "deal":
        return [
            ("Stage", humanize(record.stage)),
            ("Amount", money(record.amount, record.currency)),
            ("Close date", day(record.close_date)),
            ("Status", "Closed" if record.is_closed else "Open"),
            ("Owner", owner),
        ]
    return [
        ("Status", humanize(record.status)),
        ("Priority", humanize(record.priority)),
        ("Open", "No" if record.is_closed else "Yes"),
        ("Description", record.description or "—"),
        ("Owner", owner),
    ]


def _sections(user: User, kind: str, record_id: int) -> list[dict]:
    """The associated records, grouped by type (custom records by their type's plural label)."""
    page = list_associations(user.org_id, kind, record_id, limit=200)
    groups: dict[tuple[str, int | None], list] = {}
    for item in page.items:
        key = (item.type, item.custom_type_id)
        link = (record_url(item.type, item.id, item.custom_type_id), item.display_name)
        groups.setdefault(key, []).append(link)
    custom_labels = {
        type_id: get_custom_type(user.org_id, type_id).plural_label
        for (kind_, type_id) in groups
        if kind_ == "custom"
    }
    sections = []
    for key in sorted(groups, key=lambda k: (SECTION_ORDER.index(k[0]), k[1] or 0)):
        heading = custom_labels[key[1]] if key[0] == "custom" else TITLES[key[0]]
        sections.append({"heading": heading, "links": sorted(groups[key], key=lambda x: x[1])})
    return sections


def _timeline_args() -> tuple[str | None, int | None]:
    """The timeline page asked for, and the email whose remote images to load (LOG-10)."""
    images = request.args.get("images", "")
    return request.args.get("timeline_cursor"), int(images) if images.isdigit() else None


def _detail_page(user: User, kind: str, record_id: int):
    record = get_record(user.org_id, kind, record_id)
    return render_template(
        "web/detail.html",
        active=PLURALS[kind],
        kind=kind,
        back=(url_for(f"web.{PLURALS[kind]}"), TITLES[kind]),
        title=display_name(kind, record),
        record=record,
        emails=record.emails if kind == "contact" else None,
        fields=_fields(kind, record, user),
        properties=sorted((record.properties or {}).items()),
        sections=_sections(user, kind, record_id),
        timeline=record_timeline(user, kind, record_id, *_timeline_args()),
        timeline_cursor=request.args.get("timeline_cursor"),
    )


@bp.get("/contacts")
@signed_in
def contacts(user: User):
    """Contacts, searchable by name or address, newest first."""
    return _list_page(user, "contact")


@bp.get("/contacts/<int:contact_id>")
@signed_in
def contact_detail(user: User, contact_id: int):
    """One contact: properties, addresses, owner, primary company, associated records."""
    return _detail_page(user, "contact", contact_id)


@bp.get("/companies")
@signed_in
def companies(user: User):
    """Companies, searchable by name or domain."""
    return _list_page(user, "company")


@bp.get("/companies/<int:company_id>")
@signed_in
def company_detail(user: User, company_id: int):
    """One company and its associated records."""
    return _detail_page(user, "company", company_id)


@bp.get("/deals")
@signed_in
def deals(user: User):
    """Deals, searchable by name."""
    return _list_page(user, "deal")


@bp.get("/deals/<int:deal_id>")
@signed_in
def deal_detail(user: User, deal_id: int):
    """One deal and its associated records."""
    return _detail_page(user, "deal", deal_id)


@bp.get("/tickets")
@signed_in
def tickets(user: User):
    """Tickets, searchable by subject."""
    return _list_page(user, "ticket")


@bp.get("/tickets/<int:ticket_id>")
@signed_in
def ticket_detail(user: User, ticket_id: int):
    """One ticket and its associated records."""
    return _detail_page(user, "ticket", ticket_id)


def _property_text(prop: dict, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if prop["type"] == "bool":
        return "Yes" if value else "No"
    if prop["type"] == "date":
        return day(value)
    return str(value)


@bp.get("/custom/<int:type_id>")
@signed_in
def custom_records(user: User, type_id: int):
    """The records of one custom object type, searchable by their display property."""
    object_type = get_custom_type(user.org_id, type_id)
    shown = [p for p in object_type.property_schema if p["name"] != object_type.display_property]
    shown = shown[:4]
    q = (request.args.get("q") or "").strip()
    cursor = request.args.get("cursor")
    page = list_custom_records(user.org_id, type_id, q or None, cursor, PAGE_SIZE)
    owners = user_names(user.org_id, (r.owner_id for r in page.items))
    rows = [
        {
            "href": record_url("custom", r.id, type_id),
            "title": display_name("custom", r),
            "cells": [_property_text(p, r.properties.get(p["name"])) for p in shown]
            + [owners.get(r.owner_id, "—"), localday(r.last_activity_at)],
        }
        for r in page.items
    ]
    columns = [object_type.label, *(p["label"] for p in shown), "Owner", "Last activity"]
    return render_template(
        "web/list.html",
        title=object_type.plural_label,
        active=f"custom-{type_id}",
        columns=columns,
        rows=rows,
        q=q,
        **_pager(q, page.next_cursor),
        noun=object_type.plural_label.lower(),
    )


@bp.get("/custom/<int:type_id>/<int:record_id>")
@signed_in
def custom_record(user: User, type_id: int, record_id: int):
    """One custom object record: its typed properties and associated records."""
    record = get_custom_record(user.org_id, type_id, record_id)
    object_type = record.object_type
    owner = user_names(user.org_id, [record.owner_id]).get(record.owner_id, "—")
    fields = [
        (p["label"], _property_text(p, record.properties.get(p["name"])))
        for p in object_type.property_schema
    ]
    return render_template(
        "web/detail.html",
        active=f"custom-{type_id}",
        kind="custom",
        back=(url_for("web.custom_records", type_id=type_id), object_type.plural_label),
        title=display_name("custom", record),
        record=record,
        emails=None,
        fields=[*fields, ("Owner", owner)],
        properties=[],
        sections=_sections(user, "custom", record_id),
        timeline=record_timeline(user, "custom", record_id, *_timeline_args()),
        timeline_cursor=request.args.get("timeline_cursor"),
    )
