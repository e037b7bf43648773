"""Delivery status notifications: RFC 3464 reports and the common non-standard bounce shapes,
parsed into per-recipient results (BULK-10).

`parse_dsn(message)` returns a DeliveryReport or None when the message is no bounce. Standard
reports (multipart/report; report-type=delivery-status) are read from their delivery-status part;
anything else is handed to the text parsers of server.mail.dsn_text (qmail, Exim, Postfix without
report headers, Exchange / Office 365 NDRs, Gmail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default as default_policy

ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
BASIC_REPLY = re.compile(r"(?<!\d)([245])\d\d(?:[ -]|$)")
MESSAGE_ID = re.compile(r"^message-id:[ \t]*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
SUCCESS_ACTIONS = ("delivered", "relayed", "expanded")
STATUS_PART_TYPES = ("message/delivery-status", "message/global-delivery-status")
HEADERS_PART_TYPES = ("text/rfc822-headers", "message/global-headers")


@dataclass(frozen=True)
class RecipientResult:
    """What happened to one recipient: action, status (x.y.z), diagnostic text, remote MTA."""

    recipient: str
    action: str
    status: str
    diagnostic: str | None = None
    remote_mta: str | None = None
    original_recipient: str | None = None

    @property
    def kind(self) -> str:
        """'hard' (5.x.x), 'soft' (4.x.x) or 'success' (delivered / relayed / expanded)."""
        if self.action in SUCCESS_ACTIONS or self.status.startswith("2"):
            return "success"
        return "hard" if self.status.startswith("5") else "soft"

    @property
    def hard(self) -> bool:
        """True for a permanent failure (status class 5)."""
        return self.kind == "hard"


@dataclass
class DeliveryReport:
    """A parsed bounce: its shape, the per-recipient results and the original Message-ID."""

    shape: str  # rfc3464 | qmail | exim | postfix | exchange | gmail
    results: list[RecipientResult] = field(default_factory=list)
    original_message_id: str | None = None
    reporting_mta: str | None = None


def squash(text: str | None) -> str | None:
    """One line: runs of whitespace (folding included) made single spaces; None when empty."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text or None


def status_from_text(text: str | None, default: str | None = None) -> str | None:
    """An enhanced status code (x.y.z) in the text, else one derived from an SMTP reply code."""
    if not text:
        return default
    found = ENHANCED_STATUS.search(text)
    if found:
        return ".".join(found.groups())
    reply = BASIC_REPLY.search(text)
    if reply:
        return f"{reply.group(1)}.0.0"
    return default


def address_of(value: str | None) -> str | None:
    """The address of an RFC 3464 recipient field ("rfc822; a@b" → "a@b")."""
    value = squash(value)
    if not value:
        return None
    _, sep, address = value.partition(";")
    address = (address if sep else value).strip().strip("<>").strip()
    return address or None


def _split_blocks(text: str) -> list[dict[str, str]]:
    blocks = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text.strip()):
        if chunk.strip():
            parsed = HeaderParser(policy=default_policy).parsestr(chunk.strip() + "\n\n")
            blocks.append({k.lower(): str(v) for k, v in parsed.items()})
    return blocks


def status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part (per-message first), keys lower-case."""
    payload = part.get_payload()
    if isinstance(payload, str):
        data = part.get_payload(decode=True) or b""
        return _split_blocks(data.decode("utf-8", errors="replace"))
    blocks: list[dict[str, str]] = []
    for sub in payload:
        blocks.append({k.lower(): str(v) for k, v in sub.items()})
        body = sub.get_payload()
        if isinstance(body, str) and body.strip():  # global-delivery-status: one message
            blocks.extend(_split_blocks(body))
    return blocks


def _recipient_result(block: dict[str, str]) -> RecipientResult | None:
    recipient = address_of(block.get("final-recipient")) or address_of(
        block.get("original-recipient")
    )
    if not recipient:
        return None
    action = (squash(block.get("action")) or "failed").split()[0].lower()
    diagnostic = squash(block.get("diagnostic-code"))
    if diagnostic and ";" in diagnostic.split()[0]:
        diagnostic = diagnostic.split(";", 1)[1].strip() or None
    default = {"failed": "5.0.0", "delayed": "4.0.0"}.get(action, "2.0.0")
    status = status_from_text(block.get("status")) or status_from_text(diagnostic, default)
    return RecipientResult(
        recipient=recipient,
        action=action,
        status=status or default,
        diagnostic=diagnostic,
        remote_mta=address_of(block.get("remote-mta")),
        original_recipient=address_of(block.get("original-recipient")),
    )


def _outside_attached_messages(message: Message):
    """Walk the parts of `message` without descending into attached messages."""
    yield message
    if message.get_content_type() in ("message/rfc822", *STATUS_PART_TYPES):
        return
    if message.is_multipart():
        for sub in message.get_payload():
            yield from _outside_attached_messages(sub)


def original_message_id(message: Message, body_text: str | None = None) -> str | None:
    """The Message-ID of the message that bounced: attached message, its headers, or quoted text."""
    for part in _outside_attached_messages(message):
        kind = part.get_content_type()
        if kind == "message/rfc822" and isinstance(part.get_payload(), list):
            value = part.get_payload()[0].get("Message-ID")
            if value:
                return squash(str(value))
        if kind in HEADERS_PART_TYPES:
            data = part.get_payload(decode=True) or b""
            found = MESSAGE_ID.search(data.decode("utf-8", errors="replace"))
            if found:
                return found.group(1)
    if body_text:
        found = MESSAGE_ID.search(body_text)
        if found:
            return found.group(1)
    return None


def _parse_report(message: Message) -> DeliveryReport | None:
    parts = _outside_attached_messages(message)
    status_part = next((p for p in parts if p.get_content_type() in STATUS_PART_TYPES), None)
    if status_part is None:
        return None
    blocks = status_blocks(status_part)
    results = [r for r in map(_recipient_result, blocks) if r is not None]
    if not results:
        return None
    per_message = blocks[0] if blocks and "final-recipient" not in blocks[0] else {}
    return DeliveryReport(
        shape="rfc3464",
        results=results,
        original_message_id=original_message_id(message)
        or squash(per_message.get("x-original-message-id")),
        reporting_mta=address_of(per_message.get("reporting-mta")),
    )


def parse_dsn(message: EmailMessage | Message) -> DeliveryReport | None:
    """Parse a bounce (RFC 3464 or a known non-standard shape); None when it is not one."""
    from .dsn_text import parse_text_bounce

    is_report = message.get_content_type() == "multipart/report"
    report_type = str(message.get_param("report-type", "", header="content-type")).lower()
    if is_report and report_type not in ("", "delivery-status"):
        return None  # a disposition (read receipt) or feedback report, not a bounce
    report = _parse_report(message)
    if report is not None:
        return report
    return parse_text_bounce(message)
