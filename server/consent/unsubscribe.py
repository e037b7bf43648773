"""Unsubscribe (GDPR-7): signed per-recipient links, List-Unsubscribe headers, the mailto handler.

A token is `<org id>-<ref>-<scope>-<signature>`, all lower-case (mail systems may lower-case the
local part of `unsubscribe+<token>@<inbound domain>`, and a local part stays under 64 octets):
- ref `c<contact id>` for a recipient that is a contact, `m<outbox id>` for one that is not
  (the address is read from the outbox row when the recipient acts);
- scope `all` (global opt-out) or `t<subscription type id>` (unsubscribe from that type);
- signature: the first 20 hex digits of HMAC-SHA256(SECRET_KEY, "unsubscribe:" + the rest).
Tokens do not expire; changing SECRET_KEY invalidates them all.

Which messages get the headers (a send-time content preparer, so the link is made for the
recipient of each outbox row): "commercial" ones, i.e. rows whose content carries
{"consent": {"purpose": "commercial"}} not from a ticket, or, without that key, rows whose
`purpose` column is bulk, follow_up or commercial. The scope is the subscription type named in
content["consent"]["subscription_type"] when the org has it, else `all`. In the body: merge
templates (content with "merge") get the fields `unsubscribe_url` and `preferences_url`
(`{{ unsubscribe_url }}` in the template); plain HTML/text bodies get a literal
`{{ unsubscribe_url }}` / `{{ preferences_url }}` placeholder replaced.

Takes effect at once: `unsubscribed_send_check` (an outbox send check) skips a commercial row
whose contact has opted out or unsubscribed from the row's subscription type, whenever the row
was queued. A recipient who is no contact is added to the org's suppression list instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from html import escape

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..mail import suppression
from ..mail.delivery import register_content_preparer
from ..mail.inbound import INBOUND_HANDLERS, InboundDelivery, RouteFailure
from ..mail.inbound_addresses import UNSUBSCRIBE_PREFIX, inbound_domain
from ..mail.models import OutboxMessage
from ..mail.outbox import SEND_CHECKS
from ..records.models import Contact, ContactEmail
from .models import ContactSubscription, GlobalOptOut, SubscriptionType
from .service import _audit, write_opt_out, write_subscription

COMMERCIAL_ROW_PURPOSES = ("bulk", "follow_up", "commercial")
_TOKEN = re.compile(r"(\d{1,18})-([cm])(\d{1,18})-(all|t\d{1,18})-([0-9a-f]{20})")
_PLACEHOLDERS = {
    "unsubscribe_url": re.compile(r"\{\{\s*unsubscribe_url\s*\}\}"),
    "preferences_url": re.compile(r"\{\{\s*preferences_url\s*\}\}"),
}


@dataclass(frozen=True)
class Target:
    """Whom a verified token unsubscribes, and from what (type_id None: everything)."""

    token: str
    org_id: int
    contact_id: int | None
    address: str | None
    type_id: int | None


def _signature(payload: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"unsubscribe:{payload}".encode(), hashlib.sha256).hexdigest()[:20]


def make_token(org_id: int, contact_id: int | None, outbox_id: int | None, type_id: int | None):
    """A signed token for a contact (or, with contact_id None, an outbox row's recipient)."""
    ref = f"c{contact_id}" if contact_id is not None else f"m{outbox_id}"
    payload = f"{org_id}-{ref}-{'all' if type_id is None else f't{type_id}'}"
    return f"{payload}-{_signature(payload)}"


def resolve(token: str) -> Target | None:
    """The target of a token, or None when forged, malformed or its contact/row is gone."""
    token = (token or "").strip().lower()
    found = _TOKEN.fullmatch(token)
    if not found or not hmac.compare_digest(found.group(5), _signature(token.rpartition("-")[0])):
        return None
    org_id, kind, ref = int(found.group(1)), found.group(2), int(found.group(3))
    type_id = None if found.group(4) == "all" else int(found.group(4)[1:])
    if kind == "c":
        contact = db.session.get(Contact, ref)
        if contact is None or contact.org_id != org_id:
            return None
        return Target(token, org_id, contact.id, contact.primary_email, type_id)
    row = db.session.get(OutboxMessage, ref)
    if row is None or row.org_id != org_id:
        return None
    return Target(token, org_id, contact_id_for(org_id, row.recipient), row.recipient, type_id)


def contact_id_for(org_id: int, address: str) -> int | None:
    """The org's contact with this address, if any."""
    return db.session.scalar(
        select(ContactEmail.contact_id).where(
            ContactEmail.org_id == org_id, ContactEmail.email_normalized == address.strip().lower()
        )
    )


def link_for(token: str) -> str:
    """The https unsubscribe page (and one-click POST target) of a token."""
    return f"{str(current_app.config['BASE_URL']).rstrip('/')}/u/{token}"


def mailto_for(token: str) -> str:
    """The mailto unsubscribe address of a token."""
    return f"{UNSUBSCRIBE_PREFIX}{token}@{inbound_domain()}"


def subscription_type(org_id: int, type_id: int | None) -> SubscriptionType | None:
    """The org's subscription type `type_id` (None for None or another org's)."""
    if type_id is None:
        return None
    found = db.session.get(SubscriptionType, type_id)
    return found if found is not None and found.org_id == org_id else None


def apply_unsubscribe(target: Target, surface: str, via: str) -> str:
    """Unsubscribe the target (type, or global opt-out), audited; the caller commits."""
    details = {"via": via}
    if target.contact_id is None:
        suppression.suppress(target.org_id, target.address or "", "unsubscribed")
        _audit(target.org_id, None, None, "unsubscribed_address", surface=surface,
               details={**details, "token": target.token})  # fmt: skip
        db.session.flush()
        return "suppressed (no contact)"
    sub_type = subscription_type(target.org_id, target.type_id)
    if sub_type is not None:
        write_subscription(target.org_id, None, target.contact_id, sub_type, "unsubscribed",
                           surface, details)  # fmt: skip
        return f"unsubscribed contact {target.contact_id} from {sub_type.name}"
    write_opt_out(target.org_id, None, target.contact_id, True, surface, details=details)
    return f"opted contact {target.contact_id} out of all email"


# --- send time ------------------------------------------------------------------------------------


def is_commercial(row: OutboxMessage) -> bool:
    """Whether an outbox row is commercial email (see the module docstring)."""
    consent = (row.content or {}).get("consent")
    if isinstance(consent, dict):
        origin = consent.get("origin") or {}
        from_ticket = isinstance(origin, dict) and origin.get("type") == "ticket"
        return consent.get("purpose") == "commercial" and not from_ticket
    return row.purpose in COMMERCIAL_ROW_PURPOSES


def _row_type(row: OutboxMessage) -> SubscriptionType | None:
    consent = (row.content or {}).get("consent")
    name = consent.get("subscription_type") if isinstance(consent, dict) else None
    if not name:
        return None
    return db.session.scalar(
        select(SubscriptionType).where(
            SubscriptionType.org_id == row.org_id, SubscriptionType.name == name
        )
    )


def add_unsubscribe(row: OutboxMessage, content: dict) -> dict:
    """Content preparer: List-Unsubscribe (+ -Post) headers and body links on commercial rows."""
    if not is_commercial(row):
        return content
    contact_id = contact_id_for(row.org_id, row.recipient)
    sub_type = _row_type(row)
    token = make_token(row.org_id, contact_id, row.id, sub_type.id if sub_type else None)
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


def unsubscribed_send_check(row: OutboxMessage) -> str | None:
    """Send check: skip a commercial row to a contact who opted out or left the row's type."""
    if not is_commercial(row):
        return None
    contact_id = contact_id_for(row.org_id, row.recipient)
    if contact_id is None:
        return None
    if db.session.get(GlobalOptOut, contact_id) is not None:
        return "consent: the recipient opted out of all email (unsubscribed)"
    sub_type = _row_type(row)
    if sub_type is not None:
        status = db.session.scalar(
            select(ContactSubscription.status).where(
                ContactSubscription.contact_id == contact_id,
                ContactSubscription.type_id == sub_type.id,
            )
        )
        if status == "unsubscribed":
            return f"consent: the recipient unsubscribed from {sub_type.name}"
    return None


def handle_unsubscribe_mail(delivery: InboundDelivery) -> str:
    """Inbound "unsubscribe" handler: a mail to unsubscribe+<token>@ unsubscribes its target."""
    target = resolve(delivery.token)
    if target is None or (delivery.org_id is not None and delivery.org_id != target.org_id):
        raise RouteFailure(f"unknown or forged unsubscribe address {delivery.recipient}")
    return apply_unsubscribe(target, "unsubscribe_mailto", "mailto")


register_content_preparer(add_unsubscribe)
if unsubscribed_send_check not in SEND_CHECKS:
    SEND_CHECKS.append(unsubscribed_send_check)
INBOUND_HANDLERS["unsubscribe"] = handle_unsubscribe_mail
