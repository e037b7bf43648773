"""Email templates (BULK-2, ONE-1): create, list, get, change, delete, and render for a recipient.

Who sees and changes what: a private template is seen and changed by its owner only (anyone
else gets 404, as if it did not exist); a shared one is seen by the whole org and changed by its
owner or an admin (others get 403). Names are unique per org, ignoring case (409 otherwise).
Subject, HTML and text are checked when saved (`merge_fields.validate_source`: 422 naming the
field and the line). `render_for` renders one for a recipient in the outbox's sandbox.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..mail.html_text import html_to_text
from ..mail.merge import MergeRenderer
from ..orgs.models import User
from ..records.models import Contact, ContactEmail
from ..records.pagination import check_limit, decode_cursor, encode_cursor
from .merge_fields import field_values, validate_source
from .models import EmailTemplate

NAME_MAX = 200
EDITABLE = ("name", "subject", "html", "text", "shared")


def _visible(user: User):
    return or_(EmailTemplate.shared.is_(True), EmailTemplate.owner_id == user.id)


def can_edit(user: User, template: EmailTemplate) -> bool:
    """The owner may change a template; an admin may change a shared one too."""
    return template.owner_id == user.id or (template.shared and user.has_role("admin"))


def _clean_name(value: Any) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise ValidationFailed("Give the template a name.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"A name has at most {NAME_MAX} characters.", field="name")
    return name


def _check_name_free(org_id: int, name: str, template_id: int | None = None) -> None:
    query = select(EmailTemplate.id).where(
        EmailTemplate.org_id == org_id, EmailTemplate.name_key == name.lower()
    )
    if template_id is not None:
        query = query.where(EmailTemplate.id != template_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A template named {name!r} already exists.", field="name")


def _check_sources(template: EmailTemplate) -> None:
    validate_source(template.subject, "subject", html=False)
    validate_source(template.html, "html", html=True)
    validate_source(template.text, "text", html=False)
    if not (template.html or "").strip() and not (template.text or "").strip():
        raise ValidationFailed("Give an HTML or a text body.", field="html")


def _save(template: EmailTemplate) -> EmailTemplate:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent save took the name
        db.session.rollback()
        raise Conflict(
            f"A template named {template.name!r} already exists.", field="name"
        ) from None
    return template


def create_template(user: User, data: dict) -> EmailTemplate:
    """A new template owned by `user` (checked; 409 on a name already used in the org)."""
    name = _clean_name(data.get("name"))
    template = EmailTemplate(
        org_id=user.org_id, owner_id=user.id, name=name, name_key=name.lower(),
        subject=data.get("subject") or "", html=data.get("html") or "",
        text=data.get("text") or None, shared=bool(data.get("shared")),
    )  # fmt: skip
    _check_sources(template)
    _check_name_free(user.org_id, name)
    db.session.add(template)
    return _save(template)


def get_template(user: User, template_id: int) -> EmailTemplate:
    """A template `user` may see (404 otherwise)."""
    template = db.session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.id == template_id, EmailTemplate.org_id == user.org_id, _visible(user)
        )
    )
    if template is None:
        raise NotFound("No such template.", field="template_id")
    return template


def _editable(user: User, template_id: int) -> EmailTemplate:
    template = get_template(user, template_id)
    if not can_edit(user, template):
        raise Forbidden("Only its owner or an admin may change a shared template.")
    return template


def update_template(user: User, template_id: int, data: dict) -> EmailTemplate:
    """Change the given fields of a template `user` may edit (checked as on create)."""
    template = _editable(user, template_id)
    changes = {k: data[k] for k in EDITABLE if k in data}
    if "name" in changes:
        name = _clean_name(changes["name"])
        _check_name_free(user.org_id, name, template.id)
        template.name, template.name_key = name, name.lower()
    for key in ("subject", "html"):
        if key in changes:
            setattr(template, key, changes[key] or "")
    if "text" in changes:
        template.text = changes["text"] or None
    if "shared" in changes and changes["shared"] is not None:
        template.shared = bool(changes["shared"])
    try:
        _check_sources(template)
    except ValidationFailed:
        db.session.rollback()
        raise
    return _save(template)


def delete_template(user: User, template_id: int) -> None:
    """Delete a template `user` may edit."""
    db.session.delete(_editable(user, template_id))
    db.session.commit()


def list_templates(
    user: User, q: str | None = None, cursor: str | None = None, limit: int | None = None
) -> dict:
    """The templates `user` sees, by name; `q` matches a part of the name."""
    limit = check_limit(limit)
    query = select(EmailTemplate).where(EmailTemplate.org_id == user.org_id, _visible(user))
    if q and q.strip():
        query = query.where(EmailTemplate.name_key.contains(q.strip().lower(), autoescape=True))
    after = decode_cursor(cursor, [str, int])
    if after is not None:
        key, last_id = after
        query = query.where(
            or_(EmailTemplate.name_key > key,
                (EmailTemplate.name_key == key) & (EmailTemplate.id > last_id))
        )  # fmt: skip
    query = query.order_by(EmailTemplate.name_key, EmailTemplate.id).limit(limit + 1)
    rows = list(db.session.scalars(query))
    items = rows[:limit]
    next_cursor = encode_cursor([items[-1].name_key, items[-1].id]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def contact_for(org_id: int, address: str | None, contact_id: int | None):
    """(contact or None, address): by id (404 when not in the org), else by address."""
    if contact_id is not None:
        contact = db.session.scalar(
            select(Contact).where(Contact.id == contact_id, Contact.org_id == org_id)
        )
        if contact is None:
            raise NotFound("No such contact.", field="contact_id")
        return contact, address or contact.primary_email
    if not address:
        return None, None
    contact = db.session.scalar(
        select(Contact)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.org_id == org_id,
               ContactEmail.email_normalized == address.strip().lower())
        .order_by(ContactEmail.is_primary.desc(), ContactEmail.id)
        .limit(1)
    )  # fmt: skip
    return contact, address.strip()


def render_template(template: EmailTemplate, fields: dict) -> dict:
    """{subject, html, text} of `template` with `fields`, in the sandbox (text from the HTML
    when the template has none)."""
    try:
        rendered = MergeRenderer().render({
            "template_key": f"template:{template.id}", "subject": template.subject,
            "html": template.html or None, "text": template.text, "merge": fields,
        })  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - a template saved before today's rules
        raise ValidationFailed(
            f"The template cannot be rendered: {exc}", field="template_id"
        ) from None
    text = rendered.text
    if text is None and rendered.html is not None:
        text = html_to_text(rendered.html)
    return {"subject": rendered.subject, "html": rendered.html, "text": text}


def render_for(
    user: User, template_id: int, to: str | None = None, contact_id: int | None = None
) -> dict:
    """A template `user` may see rendered for a recipient (an address or a contact): the
    contact's fields, the sender's; an unknown address leaves the fields empty (fallbacks)."""
    template = get_template(user, template_id)
    contact, address = contact_for(user.org_id, to, contact_id)
    return render_template(template, field_values(user, contact, address))
