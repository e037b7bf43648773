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

The send-time side (headers, body links, the send check that makes an unsubscribe take effect at
once) is server/consent/unsubscribe_send.py. A recipient who is no contact is added to the
org's suppression list when they unsubscribe.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..mail import suppression
from ..mail.inbound import INBOUND_HANDLERS, InboundDelivery, RouteFailure
from ..mail.inbound_addresses import UNSUBSCRIBE_PREFIX, inbound_domain
from ..mail.models import OutboxMessage
from ..records.models import Contact, ContactEmail
from .models import SubscriptionType
from .service import _audit, write_opt_out, write_subscription

_TOKEN = re.compile(r"(\d{1,18})-([cm])(\d{1,18})-(all|t\d{1,18})-([0-9a-f]{20})")


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


def handle_unsubscribe_mail(delivery: InboundDelivery) -> str:
    """Inbound "unsubscribe" handler: a mail to unsubscribe+<token>@ unsubscribes its target."""
    target = resolve(delivery.token)
    if target is None or (delivery.org_id is not None and delivery.org_id != target.org_id):
        raise RouteFailure(f"unknown or forged unsubscribe address {delivery.recipient}")
    return apply_unsubscribe(target, "unsubscribe_mailto", "mailto")


INBOUND_HANDLERS["unsubscribe"] = handle_unsubscribe_mail
