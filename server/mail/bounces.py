"""Bounces (BULK-10): match DSN results to outbox rows, mark hard bounces, suppress, publish.

A row is found by its VERP return path (`bounce+<outbox id>-<hmac>@<inbound domain>`, signed with
the app's secret key so nobody can forge a bounce for another row) or by the original
Message-ID. A hard bounce (5.x.x) sets the row "bounced", suppresses the address for the row's
org and publishes "mail.bounced" with hard=True; a soft bounce (4.x.x) records the diagnostic in
last_error and publishes hard=False (retrying is the send side's business). A success report
(NOTIFY=SUCCESS) moves a sent row to "delivered". The caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email.message import Message

from flask import current_app
from sqlalchemy import select

from .. import events
from ..extensions import db
from . import suppression
from .dsn import DeliveryReport, RecipientResult
from .models import OutboxMessage

VERP_PREFIX = "bounce+"
SIGNATURE_CHARS = 16
_VERP_REST = re.compile(rf"(\d{{1,18}})-([0-9a-f]{{{SIGNATURE_CHARS}}})")
_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")


class BounceNotMatched(Exception):
    """The bounce could not be tied to one of our outbox rows (kept as a dead letter)."""


@dataclass(frozen=True)
class BounceOutcome:
    """What one recipient result did to its outbox row."""

    outbox_id: int
    address: str
    kind: str  # hard | soft | success
    status: str
    changed: bool  # False when the row had already been marked (a repeated report)


def _signature(outbox_id: int) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"verp:{outbox_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:SIGNATURE_CHARS]


def verp_address(outbox_id: int) -> str:
    """The envelope sender (return path) to use for outbox row `outbox_id`."""
    domain = str(current_app.config["INBOUND_DOMAIN"]).lower()
    return f"{VERP_PREFIX}{outbox_id}-{_signature(outbox_id)}@{domain}"


def verp_outbox_id(local_part: str) -> int | None:
    """The outbox id of a VERP local part ("bounce+12-<hmac>"), or None when forged or malformed."""
    local_part = local_part.lower()
    if not local_part.startswith(VERP_PREFIX):
        return None
    found = _VERP_REST.fullmatch(local_part[len(VERP_PREFIX) :])
    if not found:
        return None
    outbox_id = int(found.group(1))
    if not hmac.compare_digest(found.group(2), _signature(outbox_id)):
        return None
    return outbox_id


def _candidate_message_ids(report: DeliveryReport, message: Message | None) -> list[str]:
    found = [report.original_message_id] if report.original_message_id else []
    if message is not None:  # many MTAs also thread their notice to the original message
        for name in ("In-Reply-To", "References"):
            found.extend(_MESSAGE_IDS.findall(str(message.get(name) or "")))
    return list(dict.fromkeys(found))


def find_row(
    report: DeliveryReport,
    message: Message | None = None,
    verp_id: int | None = None,
    org_id: int | None = None,
) -> OutboxMessage:
    """The outbox row a report is about (by VERP id, else Message-ID), within `org_id` if given."""
    row = db.session.get(OutboxMessage, verp_id) if verp_id is not None else None
    if verp_id is not None and row is None:
        raise BounceNotMatched(f"bounce for outbox message {verp_id}, which does not exist")
    if row is None:
        ids = _candidate_message_ids(report, message)
        if ids:
            query = select(OutboxMessage).where(OutboxMessage.message_id.in_(ids))
            if org_id is not None:
                query = query.where(OutboxMessage.org_id == org_id)
            row = db.session.scalars(query.limit(1)).first()
    if row is None or (org_id is not None and row.org_id != org_id):
        ids = ", ".join(_candidate_message_ids(report, message)) or "none"
        raise BounceNotMatched(f"bounce not matched to an outbox message (Message-ID: {ids})")
    return row


def _results_for(row: OutboxMessage, results: list[RecipientResult]) -> list[RecipientResult]:
    normalize = suppression.normalize_address
    mine = normalize(row.recipient)
    matching = [
        r
        for r in results
        if mine in {normalize(a or "") for a in (r.recipient, r.original_recipient)}
    ]
    return matching or results  # a forwarded address reports another final recipient


def _apply(row: OutboxMessage, result: RecipientResult) -> BounceOutcome:
    kind = result.kind
    text = f"{kind} bounce {result.status}: {result.diagnostic or 'no diagnostic'}"
    changed = True
    if kind == "hard":
        changed = row.state != "bounced"
        if changed:
            row.state = "bounced"
            row.last_error = text
            suppression.suppress(row.org_id, row.recipient, text)
    elif kind == "soft":
        row.last_error = text
    else:
        changed = row.state == "sent"
        if changed:
            row.state = "delivered"
    if kind != "success" and changed:
        events.publish(
            "mail.bounced",
            org_id=row.org_id,
            outbox_id=row.id,
            address=row.recipient,
            hard=kind == "hard",
            status=result.status,
            diagnostic=result.diagnostic,
        )
    return BounceOutcome(row.id, row.recipient, kind, result.status, changed)


def process_bounce(
    report: DeliveryReport,
    message: Message | None = None,
    verp_id: int | None = None,
    org_id: int | None = None,
) -> list[BounceOutcome]:
    """Apply a report to its outbox row in the caller's transaction; raises BounceNotMatched."""
    row = find_row(report, message, verp_id, org_id)
    db.session.refresh(row, with_for_update=True)  # two reports for one row apply one by one
    return [_apply(row, result) for result in _results_for(row, report.results)]
