"""Unsubscribe at send time (GDPR-7): the send check that makes an unsubscribe take effect at once,
and the content preparer that adds List-Unsubscribe headers and body links (see unsubscribe.py).

The batch send check reads, for a claimed batch, the recipients' contacts, global opt-outs and
statuses for the rows' subscription types in three queries, skips commercial rows to contacts who
opted out or left the row's type, and remembers each remaining row's (contact id, type id) so the
preparer that composes it right after needs no query. Composed outside a batch (a preview, a
test), the preparer looks them up itself.
"""

from __future__ import annotations

import re
from html import escape

from sqlalchemy import select

from ..extensions import db
from ..mail.delivery import register_content_preparer
from ..mail.models import OutboxMessage
from ..records.models import ContactEmail
from .models import ContactSubscription, GlobalOptOut, SubscriptionType
from .unsubscribe import link_for, mailto_for, make_token

COMMERCIAL_ROW_PURPOSES = ("bulk", "follow_up", "commercial")
_PLACEHOLDERS = {
    "unsubscribe_url": re.compile(r"\{\{\s*unsubscribe_url\s*\}\}"),
    "preferences_url": re.compile(r"\{\{\s*preferences_url\s*\}\}"),
}
_CHECKED: dict[int, tuple[int | None, int | None]] = {}  # row id -> (contact id, type id)
_CHECKED_LIMIT = 20_000


def is_commercial(row: OutboxMessage) -> bool:
    """Whether an outbox row is commercial email (see server/consent/unsubscribe.py)."""
    consent = (row.content or {}).get("consent")
    if isinstance(consent, dict):
        origin = consent.get("origin") or {}
        from_ticket = isinstance(origin, dict) and origin.get("type") == "ticket"
        return consent.get("purpose") == "commercial" and not from_ticket
    return row.purpose in COMMERCIAL_ROW_PURPOSES


def _type_name(row: OutboxMessage) -> str | None:
    consent = (row.content or {}).get("consent")
    name = consent.get("subscription_type") if isinstance(consent, dict) else None
    return name if isinstance(name, str) and name else None


def _lookups(rows: list[OutboxMessage]):
    """({(org, address): contact id}, opted-out ids, {(org, name): type id}, {(contact, type)})."""
    contacts: dict[tuple[int, str], int] = {}
    types: dict[tuple[int, str], int] = {}
    for org_id in {row.org_id for row in rows}:
        mine = [row for row in rows if row.org_id == org_id]
        addresses = {row.recipient.strip().lower() for row in mine}
        for address, contact_id in db.session.execute(
            select(ContactEmail.email_normalized, ContactEmail.contact_id).where(
                ContactEmail.org_id == org_id, ContactEmail.email_normalized.in_(addresses)
            )
        ):
            contacts[(org_id, address)] = contact_id
        names = {name for row in mine if (name := _type_name(row))}
        if names:
            for type_id, name in db.session.execute(
                select(SubscriptionType.id, SubscriptionType.name).where(
                    SubscriptionType.org_id == org_id, SubscriptionType.name.in_(names)
                )
            ):
                types[(org_id, name)] = type_id
    ids = set(contacts.values())
    opted_out = set(
        db.session.scalars(select(GlobalOptOut.contact_id).where(GlobalOptOut.contact_id.in_(ids)))
    ) if ids else set()  # fmt: skip
    left = set()
    if ids and types:
        left = set(
            db.session.execute(
                select(ContactSubscription.contact_id, ContactSubscription.type_id).where(
                    ContactSubscription.contact_id.in_(ids),
                    ContactSubscription.type_id.in_(set(types.values())),
                    ContactSubscription.status == "unsubscribed",
                )
            ).all()
        )
    return contacts, opted_out, types, left


def unsubscribed_batch_check(rows: list[OutboxMessage]) -> dict[int, str]:
    """Batch send check: skip commercial rows to contacts who opted out or left the row's type."""
    commercial = [row for row in rows if is_commercial(row)]
    if not commercial:
        return {}
    contacts, opted_out, types, left = _lookups(commercial)
    if len(_CHECKED) > _CHECKED_LIMIT:
        _CHECKED.clear()
    reasons = {}
    for row in commercial:
        contact_id = contacts.get((row.org_id, row.recipient.strip().lower()))
        name = _type_name(row)
        type_id = types.get((row.org_id, name)) if name else None
        if contact_id in opted_out:
            reasons[row.id] = "consent: the recipient opted out of all email (unsubscribed)"
        elif (contact_id, type_id) in left:
            reasons[row.id] = f"consent: the recipient unsubscribed from {name}"
        else:
            _CHECKED[row.id] = (contact_id, type_id)
    return reasons


def unsubscribed_send_check(row: OutboxMessage) -> str | None:
    """The same check for one row."""
    return unsubscribed_batch_check([row]).get(row.id)


def add_unsubscribe(row: OutboxMessage, content: dict) -> dict:
    """Content preparer: List-Unsubscribe (+ -Post) headers and body links on commercial rows."""
    if not is_commercial(row):
        return content
    checked = _CHECKED.pop(row.id, None)
    if checked is None:
        contacts, _out, types, _left = _lookups([row])
        name = _type_name(row)
        checked = (
            contacts.get((row.org_id, row.recipient.strip().lower())),
            types.get((row.org_id, name)) if name else None,
        )
    token = make_token(row.org_id, checked[0], row.id, checked[1])
    urls = {"unsubscribe_url": link_for(token), "preferences_url": link_for(token) + "/preferences"}
    headers = dict(content.get("headers") or {})
    headers["List-Unsubscribe"] = f"<{urls['unsubscribe_url']}>, <mailto:{mailto_for(token)}>"
    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    content["headers"] = headers
    if "merge" in content:
        content["merge"] = {**(content.get("merge") or {}), **urls}
        return content
    for key, quote in (("html", escape), ("text", str)):
        body = content.get(key)
        if body:
            for name, pattern in _PLACEHOLDERS.items():
                body = pattern.sub(lambda _m, n=name, q=quote: q(urls[n]), body)
            content[key] = body
    return content


def _register() -> None:
    register_content_preparer(add_unsubscribe)
    try:
        from ..mail.outbox import register_batch_send_check
    except ImportError:  # an outbox without batch checks: one query set per row
        from ..mail.outbox import SEND_CHECKS

        if unsubscribed_send_check not in SEND_CHECKS:
            SEND_CHECKS.append(unsubscribed_send_check)
        return
    register_batch_send_check(unsubscribed_batch_check)


_register()
