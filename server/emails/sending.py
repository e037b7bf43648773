"""One-to-one email from the CRM (ONE-1..3): sender, recipients, one consent gate call, the outbox.

A send is one message (To and Cc headers as chosen) queued as one outbox row per envelope
recipient (the outbox sends each row to its one recipient), all in group "one:<l|n>:<token>",
where "l" means the message is logged once it is sent (the `mail.sent` subscriber in
`send_tasks` logs it with the associations chosen at send time; every row carries the same
`content["log"]["message_id"]`, so the copies are logged as one email; an outbox that does not
publish `mail.sent` gets the message logged when it is queued instead). From is one of the
user's connected mailboxes (Graph or Gmail transport) or the org address (SMTP, Reply-To the
user). `send_at` is aware, or naive local time in the user's time zone (else the org's).
Exactly one consent gate call per send (`check_recipients`); anything not allowed is a 409
naming each blocked recipient with the options (the outbox re-runs the gate at send time).
A message may be personalized per envelope recipient (`Outgoing.personalized`: a template
rendered with each recipient's contact); the copy logged is the first row sent (the first To).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from ..clock import utcnow
from ..consent.gate import check_recipients
from ..errors import Conflict, ConsentRequired, ServiceUnavailable, ValidationFailed
from ..extensions import db
from ..mail import outbox
from ..mail.mailboxes import get_mailbox
from ..mail.outbox import new_message_id, queue_message
from ..orgs.models import Organization, User
from ..orgs.settings import effective_settings, org_setting
from ..records.associations import check_type, require_record

ONE_PREFIX = "one:"
LOGGED_PREFIX = "one:l:"
PAST_GRACE = timedelta(minutes=1)
TRANSPORTS = {"microsoft": "graph", "google": "gmail"}


@dataclass
class Sender:
    """Who a message is from and how it goes."""

    transport: str  # smtp | graph | gmail
    address: str
    name: str
    mailbox_id: int | None = None
    reply_to: list[dict] = field(default_factory=list)


@dataclass
class Outgoing:
    """One message to queue: headers, bodies, threading, and what to log once it is sent."""

    to: list[dict]
    cc: list[dict]
    subject: str
    html: str | None
    text: str | None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    associations: list[dict] = field(default_factory=list)  # [{"type", "id"}]
    attachments: list[dict] = field(default_factory=list)  # [{"blob_key", "filename", ...}]
    # per envelope recipient (lower-cased address): its own {"subject", "html", "text"}, e.g. a
    # template rendered with that recipient's contact; others get the message's
    personalized: dict[str, dict] = field(default_factory=dict)


def outbox_publishes_sent() -> bool:
    """True when this outbox publishes "mail.sent" (then sent messages are logged on that)."""
    return hasattr(outbox, "SENT_EVENT")


def resolve_sender(user: User, mailbox_id: int | None) -> Sender:
    """A connected mailbox of the user, or the org address when none is chosen."""
    if mailbox_id is not None:
        mailbox = get_mailbox(user, mailbox_id)
        if mailbox.status != "connected":
            raise Conflict(
                f"Mailbox {mailbox.address} needs reconnecting before it can send.",
                field="from_mailbox_id",
            )
        return Sender(TRANSPORTS[mailbox.provider], mailbox.address, user.name, mailbox.id)
    address = org_setting(user.org_id, "org_address")
    if not address:
        raise ValidationFailed(
            "The organization has no sending address; choose one of your connected mailboxes.",
            field="from_mailbox_id",
        )
    if not current_app.config.get("SMTP_HOST"):
        raise ServiceUnavailable(
            "This server has no SMTP relay for the organization address (LIAISON_SMTP_HOST); "
            "send from one of your connected mailboxes instead.",
            field="from_mailbox_id",
        )
    return Sender("smtp", address, user.name, reply_to=[{"email": user.email, "name": user.name}])


def user_zone(user: User) -> ZoneInfo:
    """The user's time zone, else the org's, else UTC (an unknown name counts as absent)."""
    org = db.session.get(Organization, user.org_id)
    for name in (user.time_zone, org.time_zone if org else None):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def resolve_send_at(user: User, value: datetime | None) -> datetime | None:
    """`value` as aware UTC (naive: the user's local time); None for now; 422 when past."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=user_zone(user))
    value = value.astimezone(UTC)
    if value < utcnow() - PAST_GRACE:
        raise ValidationFailed("send_at is in the past.", field="send_at")
    return value if value > utcnow() else None


def should_log(user: User, log: bool | None) -> bool:
    """The user's choice when given and the setting is not locked, else the effective setting."""
    setting = effective_settings(user).get("log_by_default") or {"value": True, "locked": False}
    if log is None or setting.get("locked"):
        return bool(setting["value"])
    return bool(log)


def should_track(user: User, track: bool | None) -> bool:
    """Track when asked (or by the effective default), and only if the org allows tracking."""
    settings = effective_settings(user)
    allowed = (settings.get("allow_tracking") or {"value": True})["value"]
    default = settings.get("track_by_default") or {"value": False, "locked": False}
    wanted = default["value"] if track is None or default.get("locked") else track
    return bool(allowed and wanted)


def check_associations(user: User, items: list[dict]) -> list[dict]:
    """The chosen records, each checked to exist in the user's org (422/404 naming it)."""
    pairs = []
    for i, item in enumerate(items):
        kind = check_type(item["type"], field=f"associations.{i}.type")
        require_record(user.org_id, kind, item["id"], field=f"associations.{i}.id")
        pairs.append((kind, item["id"]))
    return [{"type": t, "id": i} for t, i in dict.fromkeys(pairs)]


def gate(org_id: int, addresses: list[str], purpose: str, origin: dict | None) -> None:
    """The one consent gate call of a send; 409 naming each blocked recipient and its options."""
    decisions = check_recipients(org_id, addresses, purpose, origin)
    blocked = {a: d.as_dict() for a, d in decisions.items() if d.status != "allowed"}
    if blocked:
        parts = [
            f"{a}: {d['reason']}" if d["status"] == "refused"
            else f"{a}: needs a legal basis ({' or '.join(d['options'])})"
            for a, d in blocked.items()
        ]  # fmt: skip
        raise ConsentRequired(
            "Consent required: " + "; ".join(parts), field="recipients", recipients=blocked
        )


def queue_send(
    user: User,
    message: Outgoing,
    sender: Sender,
    *,
    purpose: str = "commercial",
    origin: dict | None = None,
    send_at: datetime | None = None,
    track: bool = False,
    log: bool = True,
) -> dict:
    """Gate, then queue one row per envelope recipient (one transaction); the send's summary."""
    envelope = list(dict.fromkeys(p["email"] for p in message.to + message.cc))
    if not envelope:
        raise ValidationFailed("Choose at least one recipient.", field="to")
    gate(user.org_id, envelope, purpose, origin)
    group = f"{LOGGED_PREFIX if log else 'one:n:'}{secrets.token_hex(12)}"
    domain = current_app.config["MAIL_DOMAIN"]
    ids = [new_message_id(domain) for _ in envelope]
    content = {
        "from": {"email": sender.address, "name": sender.name},
        "reply_to": sender.reply_to,
        "to": message.to,
        "cc": message.cc,
        "subject": message.subject,
        "html": message.html,
        "text": message.text,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
        "track": track,
        "consent": {"purpose": purpose, "origin": origin},
    }
    if message.attachments:  # files from the blob store, attached when the delivery supports it
        content["attachments"] = message.attachments
    if log:
        content["log"] = {"message_id": ids[0], "associations": message.associations}
    rows = [
        queue_message(
            org_id=user.org_id,
            recipient=address,
            envelope_from=sender.address,
            content={**content, **message.personalized.get(address.lower(), {})},
            message_id=message_id,
            user_id=user.id,
            purpose="one_to_one",
            transport=sender.transport,
            mailbox_id=sender.mailbox_id,
            group_key=group,
            send_at=send_at,
        )  # fmt: skip
        for address, message_id in zip(envelope, ids, strict=True)
    ]
    db.session.commit()
    if log and not outbox_publishes_sent():
        from .send_tasks import log_sent

        log_sent(rows[0].id)  # fallback: an outbox without "mail.sent" gets it logged when queued
    return {
        "group_key": group,
        "message_id": ids[0],
        "outbox_ids": [row.id for row in rows],
        "send_at": send_at or rows[0].next_attempt_at,
        "scheduled": send_at is not None,
        "logged_when_sent": log,
        "purpose": purpose,
        "transport": sender.transport,
    }
