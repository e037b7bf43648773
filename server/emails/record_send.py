"""Sending from a record's page (ONE-1..3): To among the record's contacts' addresses.

Which addresses a record offers: a contact its own; a company those of its contacts (primary
company or associated); a deal, ticket or custom record those of its associated contacts.
Subject and bodies may use merge fields (`{{ first_name }}`, `last_name`, `email`, `company`),
rendered once at queue time in the outbox's sandbox with the first To contact's fields, so what is
sent is what is logged. Or a saved template (`template_id`, BULK-2) instead of subject and body,
rendered at queue time for each recipient with their own contact's fields. A ticket's send is
transactional with origin {"type": "ticket"} (ONE-3, GDPR-4); every other record's is commercial.
Associations: the chosen ones, else the record itself plus the default ticks for the recipients
(LOG-4).
"""

from __future__ import annotations

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from sqlalchemy import or_, select

from ..bulk.merge_fields import field_values
from ..bulk.templates import get_template, render_template
from ..errors import ValidationFailed
from ..extensions import db
from ..mail.merge import MergeRenderer
from ..orgs.models import User
from ..orgs.settings import effective_settings
from ..records.associations import require_record
from ..records.models import Association, Company, Contact, ContactEmail
from .candidates import build_candidates
from .sending import (
    Outgoing,
    check_associations,
    queue_send,
    resolve_send_at,
    resolve_sender,
    should_log,
    should_track,
)


def _contact_ids(org_id: int, record_type: str, record_id: int):
    """A SELECT of the ids of the contacts whose addresses the record offers."""
    if record_type == "contact":
        return select(Contact.id).where(Contact.org_id == org_id, Contact.id == record_id)
    if record_type == "company":
        linked = select(Association.b_id).where(
            Association.org_id == org_id, Association.a_type == "company",
            Association.a_id == record_id, Association.b_type == "contact",
        )  # fmt: skip
        return select(Contact.id).where(
            Contact.org_id == org_id,
            or_(Contact.primary_company_id == record_id, Contact.id.in_(linked)),
        )
    return select(Association.a_id).where(
        Association.org_id == org_id, Association.a_type == "contact",
        Association.b_type == record_type, Association.b_id == record_id,
    )  # fmt: skip


def record_addresses(org_id: int, record_type: str, record_id: int) -> dict[str, tuple]:
    """{normalized address: (address, contact)} that a send from this record may go to."""
    rows = db.session.execute(
        select(ContactEmail.email_normalized, ContactEmail.email, Contact)
        .join(Contact, Contact.id == ContactEmail.contact_id)
        .where(
            ContactEmail.org_id == org_id,
            ContactEmail.contact_id.in_(_contact_ids(org_id, record_type, record_id)),
        )
        .order_by(ContactEmail.contact_id, ContactEmail.is_primary.desc(), ContactEmail.id)
    )
    return {key: (address, contact) for key, address, contact in rows}


def _merge_fields(contact: Contact, address: str) -> dict:
    company_id = contact.primary_company_id
    company = db.session.get(Company, company_id) if company_id else None
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": address,
        "company": company.name if company else "",
    }


def render_merge(subject: str, html: str | None, text: str | None, fields: dict):
    """Subject and bodies with the merge fields filled in (422 on a broken template)."""
    try:
        rendered = MergeRenderer().render({"subject": subject, "html": html, "text": text,
                                           "merge": fields})  # fmt: skip
    except (TemplateError, SecurityError) as exc:
        raise ValidationFailed(f"The template cannot be rendered: {exc}", field="body") from None
    return rendered.subject, rendered.html, (rendered.text if text is not None else None)


def render_template_for(user: User, data: dict, recipients: list[tuple]) -> dict[str, dict]:
    """{lower-cased address: {subject, html, text}}: the template rendered for each recipient
    with their contact (BULK-2); a subject or body given as well is a 422."""
    given = [k for k in ("subject", "html", "text") if data.get(k)]
    if given:
        raise ValidationFailed("Give a template or a subject and body, not both.", field=given[0])
    template = get_template(user, data["template_id"])
    return {
        address.lower(): render_template(template, field_values(user, contact, address))
        for address, contact in recipients
    }


def _pick(offered: dict[str, tuple], addresses: list[str], field: str) -> list[tuple]:
    chosen = []
    for address in addresses:
        found = offered.get(address.strip().lower())
        if found is None:
            raise ValidationFailed(
                f"{address} is not an address of this record's contacts.", field=field
            )
        chosen.append(found)
    return list({a.lower(): (a, c) for a, c in chosen}.values())


def _associations(user: User, record: tuple[str, int], explicit, parties: list[dict]) -> list:
    if explicit is not None:
        return check_associations(user, explicit)
    found = build_candidates(user, parties, effective_settings(user))
    return [{"type": t, "id": i} for t, i in dict.fromkeys([record, *found.checked()])]


def send_from_record(user: User, record_type: str, record_id: int, data: dict) -> dict:
    """Queue a one-to-one email from a record (see the module docstring); the send's summary."""
    require_record(user.org_id, record_type, record_id, field="record_id")
    offered = record_addresses(user.org_id, record_type, record_id)
    to = _pick(offered, data["to"], "to")
    cc = _pick(offered, data.get("cc") or [], "cc")
    sender = resolve_sender(user, data.get("from_mailbox_id"))
    send_at = resolve_send_at(user, data.get("send_at"))
    first_address, first_contact = to[0]
    personalized = {}
    if data.get("template_id") is not None:
        personalized = render_template_for(user, data, to + cc)
        first = personalized[first_address.lower()]
        subject, html, text = first["subject"], first["html"], first["text"]
    else:
        subject, html, text = render_merge(
            data.get("subject") or "", data.get("html"), data.get("text"),
            _merge_fields(first_contact, first_address),
        )  # fmt: skip
    if not (html or text):
        raise ValidationFailed("Give an HTML or a text body.", field="html")
    parties = [{"email": a, "name": c.display_name} for a, c in to + cc]
    ticket = record_type == "ticket"
    message = Outgoing(
        to=parties[: len(to)], cc=parties[len(to) :], subject=subject, html=html, text=text,
        associations=_associations(user, (record_type, record_id), data.get("associations"),
                                   parties),
        personalized=personalized,
    )  # fmt: skip
    return queue_send(
        user, message, sender,
        purpose="transactional" if ticket else "commercial",
        origin={"type": "ticket", "id": record_id} if ticket else None,
        send_at=send_at, track=should_track(user, data.get("track")),
        log=should_log(user, data.get("log")),
    )  # fmt: skip
