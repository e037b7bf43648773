"""Inbound dead letters' data subject part (GDPR-8).

A dead letter of the org concerns a contact when one of the contact's addresses is among its
envelope recipients or in an address header of the stored message (From, Sender, Reply-To, To,
Cc, Bcc, Return-Path, Delivered-To, X-Original-To, Resent-*), compared case-insensitively. Only
the head of each message (HEAD_BYTES) is read from the database to find its headers.

Export gives each one's metadata and main headers; the raw message too when it is at most
HEAD_BYTES long. Erase DELETES them: a dead letter is a failed inbound message kept for a retry,
and an erased contact's mail must not be retried into the CRM.

Dead letters of no org (mail to no route of ours) belong to no org, so one org's erasure does not
touch them: operators purge those with `liaison inbound dead-letters purge`.
"""

from __future__ import annotations

from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from sqlalchemy import LargeBinary, func, select

from ..extensions import db
from .inbound_models import DeadLetter

ORDER = 60
HEAD_BYTES = 64 * 1024
ADDRESS_HEADERS = (
    "from", "sender", "reply-to", "to", "cc", "bcc", "return-path", "delivered-to",
    "x-original-to", "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
)  # fmt: skip


def _addresses(contact: Any) -> set[str]:
    found = {(e.email_normalized or e.email or "").strip().lower() for e in contact.emails}
    return {a for a in found if a}


def _headers(head: bytes | None) -> Message:
    try:
        return BytesHeaderParser(policy=compat32).parsebytes(bytes(head or b""))
    except Exception:  # bytes from the internet: an unparseable head names nobody
        return Message()


def _header_addresses(headers: Message) -> set[str]:
    values = [str(v) for name in ADDRESS_HEADERS for v in headers.get_all(name) or []]
    return {address.strip().strip("<>").lower() for _, address in getaddresses(values) if address}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


def _concerning(org_id: int, contact: Any) -> list[tuple[DeadLetter, bytes, Message]]:
    """The org's dead letters naming one of the contact's addresses, with their heads."""
    addresses = _addresses(contact)
    if not addresses:
        return []
    head = func.substr(DeadLetter.raw, 1, HEAD_BYTES, type_=LargeBinary)
    rows = db.session.execute(
        select(DeadLetter, head).where(DeadLetter.org_id == org_id).order_by(DeadLetter.id)
    )
    found = []
    for row, raw_head in rows:
        headers = _headers(raw_head)
        envelope = {str(a).strip().strip("<>").lower() for a in row.envelope_recipients or []}
        if addresses & (envelope | _header_addresses(headers)):
            found.append((row, bytes(raw_head or b""), headers))
    return found


def export_dead_letters(org_id: int, contact: Any) -> list[dict]:
    """Metadata and main headers of the dead letters naming the contact (raw when small)."""
    result = []
    for row, head, headers in _concerning(org_id, contact):
        small = row.size <= HEAD_BYTES and len(head) == row.size
        result.append(
            {
                "id": row.id,
                "received_at": row.received_at,
                "source": row.source,
                "envelope_recipients": list(row.envelope_recipients or []),
                "size": row.size,
                "reason": row.reason,
                "status": row.status,
                "attempts": row.attempts,
                "last_retry_at": row.last_retry_at,
                "resolved_at": row.resolved_at,
                "from": _text(headers.get("from")),
                "to": _text(headers.get("to")),
                "cc": _text(headers.get("cc")),
                "subject": _text(headers.get("subject")),
                "date": _text(headers.get("date")),
                "message_id": _text(headers.get("message-id")),
                "raw": head.decode("utf-8", errors="replace") if small else None,
            }
        )
    return result


def erase_dead_letters(org_id: int, contact: Any) -> dict:
    """Delete the org's dead letters naming the contact (caller's transaction, no commit)."""
    from ..consent.data_subject import delete_by_ids

    ids = [row.id for row, _, _ in _concerning(org_id, contact)]
    return {"dead_letters": delete_by_ids(DeadLetter, ids)}


def _register() -> None:
    from ..consent.data_subject import register_data_subject_part

    register_data_subject_part("dead_letters", export_dead_letters, erase_dead_letters, ORDER)


_register()
